using System.Text;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Api;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EquivarianceLab.Web.Runs;

/// <summary><c>/api/runs/{id}/matching…</c>: which channel each channel became (docs/measure.md, "Channel matching").</summary>
public static class ChannelMatchingEndpoints
{
    public static RouteGroupBuilder MapChannelMatchingEndpoints(this RouteGroupBuilder api)
    {
        var runs = api.MapGroup("/runs").WithTags("Channel matching");
        runs.MapGet("/{id:int}/matching", async Task<Results<Ok<List<MatchingSummaryDto>>, ProblemHttpResult>> (int id, RunService service, CancellationToken ct) =>
            {
                var result = await ResultOf(id, service, ct);
                ChannelMatchingViews.RequireMatching(result, id);
                return TypedResults.Ok(ChannelMatchingViews.Summaries(result));
            })
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Per layer and transform of a finished run: the share of channels matched to their own index and the share of distinct matches (1 = a permutation).");
        runs.MapGet("/{id:int}/matching/channels", async Task<Results<Ok<ChannelMatchingDto>, ProblemHttpResult>> (int id, string? layer, string? transform, RunService service, CancellationToken ct) =>
            {
                var (found, matching) = ChannelMatchingViews.Find(await ResultOf(id, service, ct), id, layer, transform);
                return TypedResults.Ok(new ChannelMatchingDto(found.Name, found.Index, transform!, matching));
            })
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("One layer and transform (?layer=NAME&transform=rot90): per channel c its most frequent best partner c′, the share of images that chose it, its mean best and c′ = c similarities, and the most chosen partners with their counts.");
        runs.MapGet("/{id:int}/matching.png", async Task<Results<FileContentHttpResult, ProblemHttpResult>> (int id, string? layer, string? transform, RunService service, CancellationToken ct) =>
            {
                var (_, matching) = ChannelMatchingViews.Find(await ResultOf(id, service, ct), id, layer, transform);
                return TypedResults.File(ChannelMatchingViews.HeatmapPng(matching), "image/png");
            })
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("The c → c′ heat map of one layer and transform (?layer=NAME&transform=rot90) as a PNG of C × C pixels: row c, column c′, darker = chosen by more images.");
        runs.MapGet("/{id:int}/matching.csv", async Task<Results<FileContentHttpResult, ProblemHttpResult>> (int id, RunService service, CancellationToken ct) =>
            {
                var result = await ResultOf(id, service, ct);
                ChannelMatchingViews.RequireMatching(result, id);
                return TypedResults.File(Encoding.UTF8.GetBytes(MatchingCsv.Write(result)), "text/csv; charset=utf-8", $"run-{id}-matching.csv");
            })
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("A finished run's channel matching as CSV: one row per layer, transform and channel (the columns of eqlab measure --matching-csv).");
        return api;
    }

    private static async Task<MeasurementResult> ResultOf(int id, RunService service, CancellationToken ct) =>
        await service.FindDoneAsync(id, ct) is { ResultJson: { } json }
            ? MeasurementResult.FromJson(json)
            : throw RequestException.NotFound($"Run {id} has no result.");
}
