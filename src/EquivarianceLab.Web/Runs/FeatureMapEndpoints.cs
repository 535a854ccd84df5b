using System.Globalization;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Uploads;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EquivarianceLab.Web.Runs;

/// <summary>
/// <c>/api/runs/{id}/feature-maps</c>: a finished run's f(gX)_c beside g·f(X)_c′ for one probe image, as JSON with both
/// PNGs embedded, or either PNG alone (docs/dashboard.md, "Feature maps").
/// </summary>
public static class FeatureMapEndpoints
{
    private const string Parameters =
        "?image=0&layer=NAME&channel=0&transform=KEY[&partner=C′]: image (a probe image the run measured; default 0), layer (one of its spatial layers), " +
        "channel (below the layer's channel count; default 0), transform (one of the run's per-transform keys: rot90, shift3, flip, …), " +
        "partner (optional: c′ to show instead of the best one).";

    public static RouteGroupBuilder MapFeatureMapEndpoints(this RouteGroupBuilder runs)
    {
        runs.MapGet("/{id:int}/feature-maps", async Task<Results<Ok<FeatureMapDto>, ProblemHttpResult>> (int id, [AsParameters] FeatureMapQuery query, FeatureMapService service, CancellationToken ct) =>
                TypedResults.Ok(FeatureMapDto.From(await service.GetAsync(id, query.ToRequest(), ct))))
            .Problems()
            .WithSummary("One probe image's feature maps of a finished run: f(gX)_c (moved) beside g·f(X)_c′ (reference) as PNG data URLs of the layer's grid size " +
                         "on one colour scale (white 0, red +scale, blue −scale), with c′ (partner, this image's best match unless given), S(c, c′) (similarity) " +
                         "and S(c, c) (selfSimilarity). Computed by a worker on first request, then kept. " + Parameters);
        runs.MapGet("/{id:int}/feature-maps/moved.png", async Task<Results<FileContentHttpResult, ProblemHttpResult>> (int id, [AsParameters] FeatureMapQuery query, FeatureMapService service, CancellationToken ct) =>
                TypedResults.File((await service.GetAsync(id, query.ToRequest(), ct)).Moved, "image/png"))
            .Problems()
            .WithSummary("f(gX)_c alone: the PNG (width × height pixels) of GET /api/runs/{id}/feature-maps. " + Parameters);
        runs.MapGet("/{id:int}/feature-maps/reference.png", async Task<Results<FileContentHttpResult, ProblemHttpResult>> (int id, [AsParameters] FeatureMapQuery query, FeatureMapService service, CancellationToken ct) =>
                TypedResults.File((await service.GetAsync(id, query.ToRequest(), ct)).Reference, "image/png"))
            .Problems()
            .WithSummary("g·f(X)_c′ alone: the PNG (width × height pixels) of GET /api/runs/{id}/feature-maps. " + Parameters);
        return runs;
    }

    /// <summary>What every feature-map endpoint may answer besides 200; each costs a worker on a cache miss, so it is rate-limited like run requests.</summary>
    private static RouteHandlerBuilder Problems(this RouteHandlerBuilder endpoint) => endpoint
        .ProducesValidationProblem()
        .ProducesProblem(StatusCodes.Status404NotFound)
        .ProducesProblem(StatusCodes.Status409Conflict)
        .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
        .ProducesProblem(StatusCodes.Status429TooManyRequests)
        .RequireRateLimiting(RateLimiting.Runs);
}

/// <summary>
/// The query of the feature-map endpoints, as sent: numbers are parsed here so that a wrong one is a validation
/// problem naming its field (the framework's binder would answer an empty 400).
/// </summary>
public sealed record FeatureMapQuery(string? Image, string? Layer, string? Channel, string? Transform, string? Partner)
{
    public FeatureMapRequest ToRequest() =>
        new(Whole("image", Image) ?? 0, Layer ?? "", Whole("channel", Channel) ?? 0, Transform ?? "", Whole("partner", Partner));

    private static int? Whole(string field, string? value) =>
        string.IsNullOrWhiteSpace(value) ? null
        : int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n
        : throw RequestException.Invalid(field, $"{field} must be a whole number (got '{UploadNames.ShownId(value)}').");
}
