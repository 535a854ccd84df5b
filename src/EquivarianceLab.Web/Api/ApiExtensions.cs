using EquivarianceLab.Web.Compare;
using EquivarianceLab.Web.Models;
using EquivarianceLab.Web.ProbeSets;
using EquivarianceLab.Web.Runs;
using Scalar.AspNetCore;

namespace EquivarianceLab.Web.Api;

/// <summary>The HTTP API for scripts and the command line: one group per feature under <c>/api</c>, errors as problem details, an OpenAPI document.</summary>
public static class ApiExtensions
{
    public static IServiceCollection AddEquivarianceLabApi(this IServiceCollection services)
    {
        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(o => ApiJson.Configure(o.SerializerOptions));
        services.AddOpenApi(o => o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "EquivarianceLab API";
            document.Info.Description = "Models, probe sets, measurement runs and accuracy correlations of an EquivarianceLab server. Every error is application/problem+json.";
            return Task.CompletedTask;
        }));
        return services;
    }

    public static WebApplication MapEquivarianceLabApi(this WebApplication app)
    {
        var api = app.MapGroup("/api").AddEndpointFilter(async (context, next) =>
        {
            try { return await next(context); }
            catch (RequestException e)
            {
                if (e.RetryAfter is { } retry) RateLimiting.WithRetryAfter(context.HttpContext, retry);
                return ApiProblems.From(e);
            }
        }).DisableAntiforgery().RequireAuthorization(Accounts.AccountsExtensions.Read).RequireRateLimiting(RateLimiting.Api);
        api.MapModelEndpoints();
        api.MapProbeSetEndpoints();
        api.MapRunEndpoints();
        api.MapChannelMatchingEndpoints();
        api.MapCorrelationEndpoints();
        app.MapThumbnails();

        app.MapOpenApi();
        // The interactive reference is served from the package itself; nothing is fetched from outside (no web fonts either).
        app.MapScalarApiReference(o => o.DisableDefaultFonts().WithTitle("EquivarianceLab API"));
        return app;
    }
}
