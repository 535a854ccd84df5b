using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Uploads;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace EquivarianceLab.Web.Compare;

/// <summary><c>/api/correlation</c>: the Correlation page's groups and numbers, from the same <see cref="CompareService"/> call.</summary>
public static class CorrelationEndpoints
{
    public static RouteGroupBuilder MapCorrelationEndpoints(this RouteGroupBuilder api)
    {
        var correlation = api.MapGroup("/correlation").WithTags("Correlation");
        correlation.MapGet("/", async Task<Results<Ok<CorrelationStudyDto>, ProblemHttpResult>> ([FromQuery(Name = "group")] string? group,
                CompareService service, CancellationToken ct) =>
            {
                var key = string.IsNullOrEmpty(group) ? null : group;
                var study = CompareService.WithStatistics(await service.CorrelationGroupsAsync(ct), key);
                if (key is null) return TypedResults.Ok(CorrelationStudyDto.From(study, study.Groups));
                return study.Find(key) is { } one
                    ? TypedResults.Ok(CorrelationStudyDto.From(study, [one]))
                    : ApiProblems.NotFound($"No group of comparable runs '{UploadNames.ShownId(key)}'. GET /api/correlation lists the groups.");
            })
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Spearman's ρ between each part's score and the models' accuracy, per group of comparable runs (same probe set, transform, similarity, maxShift, images and accuracy test set; each model's newest run): ρ, n, two-sided p (exact for n ≤ 10) and a bootstrap 95% interval. ?group=KEY (the Correlation page's URL state) returns that group only; the runs left out are listed with the reason.");
        return api;
    }
}
