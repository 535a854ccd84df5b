using EquivarianceLab.Web.Accounts;
using System.Security.Claims;
using EquivarianceLab.Web.Api;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EquivarianceLab.Web.ProbeSets;

/// <summary><c>/api/probesets</c>: list and upload; and the thumbnails the pages show.</summary>
public static class ProbeSetEndpoints
{
    public static RouteGroupBuilder MapProbeSetEndpoints(this RouteGroupBuilder api)
    {
        var sets = api.MapGroup("/probesets").WithTags("Probe sets");
        sets.MapGet("/", async (ProbeSetService service, CancellationToken ct) =>
            TypedResults.Ok((await service.ListAsync(ct)).Select(ProbeSetDto.From).ToList()))
            .WithSummary("Every probe set, the default first.");
        sets.MapPost("/", async Task<Created<ProbeSetDto>> (HttpContext http, ClaimsPrincipal user, ProbeSetService service, LabOptions options, CancellationToken ct) =>
            {
                var form = await ApiRequests.ReadMultipartAsync(http, options, ProbeSetService.CheckFields, ct);
                var entry = await service.AddAsync(form.File!, form.FileName, form.Field("name"), Caller.From(user), ct);
                return TypedResults.Created($"/api/probesets", ProbeSetDto.From(entry));
            })
            .WithMultipartBody("name")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .WithSummary("Upload a probe set: a .npy float32 [N,C,H,W] or a .zip of PNG/JPEG images, with an optional name.")
            .RequireRateLimiting(RateLimiting.Uploads)
            .RequireAuthorization(AccountsExtensions.Member);
        return api;
    }

    /// <summary>Thumbnails are found by probe set id in the database; the URL never names a file.</summary>
    public static IEndpointRouteBuilder MapThumbnails(this IEndpointRouteBuilder app)
    {
        app.MapGet("/thumbnails/{probeSetId}/{index:int}.png", async Task<Results<PhysicalFileHttpResult, NotFound>> (string probeSetId, int index, ProbeSetService service, CancellationToken ct) =>
                await service.ThumbnailPathAsync(probeSetId, index, ct) is { } path ? TypedResults.PhysicalFile(path, "image/png") : TypedResults.NotFound())
            .ExcludeFromDescription()
            .RequireAuthorization(AccountsExtensions.Read);
        return app;
    }
}
