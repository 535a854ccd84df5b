using EquivarianceLab.Web.Accounts;
using System.Security.Claims;
using EquivarianceLab.Web.Results;
using System.Text;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace EquivarianceLab.Web.Runs;

/// <summary><c>/api/runs</c>: queue, list (paged, filtered), read, download, cancel and re-run measurements; a finished run's feature maps (<see cref="FeatureMapEndpoints"/>).</summary>
public static class RunEndpoints
{
    public static RouteGroupBuilder MapRunEndpoints(this RouteGroupBuilder api)
    {
        var runs = api.MapGroup("/runs").WithTags("Runs");
        runs.MapGet("/", async Task<Results<Ok<List<RunDto>>, ProblemHttpResult>> (HttpContext http, RunService service, CancellationToken ct,
                int? page, int? pageSize, string? model, [FromQuery(Name = "probeSet")] string? probeSet, string? transform, string? status) =>
            {
                var p = page ?? 1;
                var size = pageSize ?? RunFilter.DefaultPageSize;
                if (p < 1) throw RequestException.Invalid("page", $"page must be 1 or more (got {p}).");
                if (size is < 1 or > RunFilter.MaxPageSize) throw RequestException.Invalid("pageSize", $"pageSize must be between 1 and {RunFilter.MaxPageSize} (got {size}).");
                RunStatus? wanted = null;
                if (!string.IsNullOrEmpty(status))
                    wanted = Enum.TryParse<RunStatus>(status, ignoreCase: true, out var s) && Enum.IsDefined(s) ? s
                        : throw RequestException.Invalid("status", $"Unknown status '{Uploads.UploadNames.CleanName(status)}'. Use queued, running, done, failed or cancelled.");
                var (list, total) = await service.ListAsync(new RunFilter(model, probeSet, transform?.Trim().ToLowerInvariant(), wanted), p, size, ct);
                http.Response.Headers["X-Total-Count"] = total.ToString(System.Globalization.CultureInfo.InvariantCulture);
                if (p * size < total) http.Response.Headers.Link = $"<{http.Request.PathBase}{http.Request.Path}?page={p + 1}&pageSize={size}>; rel=\"next\"";
                return TypedResults.Ok(list.Select(r => RunDto.From(r, withResult: false)).ToList());
            })
            .ProducesValidationProblem()
            .WithSummary("Runs, newest first, without their results: ?page=1&pageSize=100 (at most 1000), filtered by model, probeSet, transform and status. The total is in X-Total-Count; a Link header names the next page.");
        runs.MapPost("/", async Task<Created<CreatedRunDto>> (HttpContext http, ClaimsPrincipal user, RunService service, CancellationToken ct) =>
            {
                var request = await ApiRequests.ReadJsonAsync<RunRequest>(http, ct);
                var run = await service.QueueAsync(request, Caller.From(user), ct);
                return TypedResults.Created($"/api/runs/{run.Id}", new CreatedRunDto(run.Id));
            })
            .WithJsonBody<RunRequest>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .WithSummary("Queue a measurement: modelId, probeSetId (default: the default probe set), transform (rotation|translation|flip), similarity (pearson|cosine), images, maxShift, layers (names from GET /api/models/{id}/layers, measured in the model's forward order; default: its default selection), logits (the layer holding the logits, when not the model's own).")
            .RequireRateLimiting(RateLimiting.Runs)
            .RequireAuthorization(AccountsExtensions.Member);
        runs.MapGet("/{id:int}", async Task<Results<Ok<RunDto>, ProblemHttpResult>> (int id, RunService service, CancellationToken ct) =>
                await service.FindAsync(id, ct) is { } run ? TypedResults.Ok(RunDto.From(run)) : ApiProblems.NotFound($"No run {id}."))
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("One run: status, progress, error, and once done its result.");
        runs.MapGet("/{id:int}.csv", async Task<Results<FileContentHttpResult, ProblemHttpResult>> (int id, RunService service, CancellationToken ct) =>
                await service.FindDoneAsync(id, ct) is { } run
                    ? TypedResults.File(Encoding.UTF8.GetBytes(ResultStore.ToCsv(run, MeasurementResult.FromJson(run.ResultJson!))), "text/csv; charset=utf-8", $"run-{id}.csv")
                    : ApiProblems.NotFound($"Run {id} has no result."))
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("A finished run's scores as CSV.");
        runs.MapGet("/{id:int}.json", async Task<Results<FileContentHttpResult, ProblemHttpResult>> (int id, RunService service, CancellationToken ct) =>
                await service.FindDoneAsync(id, ct) is { } run
                    ? TypedResults.File(Encoding.UTF8.GetBytes(run.ResultJson!), "application/json", $"run-{id}-result.json")
                    : ApiProblems.NotFound($"Run {id} has no result."))
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("A finished run's result.json (the format of eqlab measure --out).");
        runs.MapPost("/{id:int}/cancel", async Task<Results<Accepted, ProblemHttpResult>> (int id, ClaimsPrincipal user, RunService service, CancellationToken ct) =>
                await service.CancelAsync(id, Caller.From(user), ct) ? TypedResults.Accepted((string?)null) : ApiProblems.Problem($"Run {id} is not queued or running.", StatusCodes.Status409Conflict))
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Cancel a queued or running run.")
            .RequireAuthorization(AccountsExtensions.Member);
        runs.MapDelete("/{id:int}", async Task<NoContent> (int id, ClaimsPrincipal user, RunService service, CancellationToken ct) =>
            {
                await service.DeleteAsync(id, Caller.From(user), ct);
                return TypedResults.NoContent();
            })
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Delete a finished, failed or cancelled run with its scores (its owner or an admin).")
            .RequireAuthorization(AccountsExtensions.Member);
        runs.MapPost("/{id:int}/rerun", async Task<Created<CreatedRunDto>> (int id, ClaimsPrincipal user, RunService service, CancellationToken ct) =>
            {
                var run = await service.RerunAsync(id, Caller.From(user), ct);
                return TypedResults.Created($"/api/runs/{run.Id}", new CreatedRunDto(run.Id));
            })
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Queue a run's settings again as a new run.")
            .RequireRateLimiting(RateLimiting.Runs)
            .RequireAuthorization(AccountsExtensions.Member);
        runs.MapFeatureMapEndpoints();
        return api;
    }
}
