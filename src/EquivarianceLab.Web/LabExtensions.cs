using EquivarianceLab.Web.Accounts;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Compare;
using EquivarianceLab.Web.Components;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Health;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Models;
using EquivarianceLab.Web.ProbeSets;
using EquivarianceLab.Web.Runs;
using Hangfire;
using EquivarianceLab.Web.Security;
using EquivarianceLab.Web.Startup;
using EquivarianceLab.Web.Storage;
using Microsoft.Extensions.Options;
using MudBlazor.Services;

namespace EquivarianceLab.Web;

public static class LabExtensions
{
    /// <summary>Options, data folder, database, jobs, catalogue and UI.</summary>
    public static WebApplicationBuilder AddEquivarianceLab(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(LabOptions.Section).Get<LabOptions>() ?? new LabOptions();
        // The folders are made now, so a wrong setting must stop the app before that: one line naming the key.
        if (LabOptionsValidator.Problems(options).ToList() is { Count: > 0 } problems)
            throw new OptionsValidationException(LabOptions.Section, typeof(LabOptions), problems);
        builder.Services.AddOptions<LabOptions>().Bind(builder.Configuration.GetSection(LabOptions.Section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<LabOptions>, LabOptionsValidator>();
        var paths = new LabPaths(builder.Environment.ContentRootPath, options);
        paths.EnsureCreated();
        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(paths);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<SafeText>();
        services.AddSingleton<Uploads.ContentLocks>();
        services.AddSingleton<Uploads.UploadQuota>();
        services.AddSecurityHeaders();

        services.AddEquivarianceLabData(builder.Configuration, paths, options);
        services.AddEquivarianceLabStorage(options, paths);
        // Before the Hangfire server: migrate, register the zoo, recover interrupted runs.
        services.AddHostedService<LabInitializer>();
        services.AddEquivarianceLabCatalog();
        services.AddEquivarianceLabJobs(builder.Configuration, paths, options);
        services.AddSingleton<CompareService>();
        services.AddEquivarianceLabAccounts(options);
        services.AddScoped<PageCaller>();
        services.AddEquivarianceLabApi();
        services.AddEquivarianceLabRateLimits(options.RateLimits);
        services.AddEquivarianceLabHealth();

        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddMudServices();
        // Forms the framework reads itself (antiforgery, Blazor's enhanced forms) are small: few fields, short values.
        services.Configure<Microsoft.AspNetCore.Http.Features.FormOptions>(f =>
        {
            f.ValueCountLimit = 64;
            f.ValueLengthLimit = 64 * 1024;
            f.KeyLengthLimit = 1024;
            f.MultipartHeadersCountLimit = 16;
            f.MultipartBodyLengthLimit = 30_000_000;
        });
        builder.WebHost.ConfigureKestrel(k =>
        {
            // Uploads raise this per request to their own limit; everything else stays small.
            k.Limits.MaxRequestBodySize = 30_000_000;
            // No server details in responses.
            k.AddServerHeader = false;
            k.Limits.MaxRequestHeaderCount = 64;
            k.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
        });
        return builder;
    }

    public static WebApplication UseEquivarianceLab(this WebApplication app)
    {
        // First, so every response gets them: static files, the API, errors, Hangfire and Scalar too.
        app.UseSecurityHeaders();
        // The API answers an unexpected failure as a problem with a request id, never a stack trace; pages show /error.
        app.UseWhen(ctx => ctx.Request.Path.StartsWithSegments("/api"), api => api.UseExceptionHandler(new ExceptionHandlerOptions
        {
            ExceptionHandler = ApiProblems.WriteUnexpectedErrorAsync,
        }));
        if (!app.Environment.IsDevelopment())
        {
            app.UseWhen(ctx => !ctx.Request.Path.StartsWithSegments("/api"), pages => pages.UseExceptionHandler("/error", createScopeForErrors: true));
        }
        // A worker node serves its health only: pages and the API are the UI nodes' (docs/deploy.md).
        if (app.Services.GetRequiredService<LabOptions>().Role == NodeRole.Worker)
        {
            app.MapEquivarianceLabHealth();
            return app;
        }
        app.UseEquivarianceLabAccounts();
        app.UseRateLimiter();
        app.UseAntiforgery();
        app.MapStaticAssets();
        app.MapEquivarianceLabApi();
        app.MapEquivarianceLabHealth();
        app.MapEquivarianceLabAccounts();
        // Local requests only unless credentials are configured, so job arguments and traces never leave the machine.
        var access = app.Services.GetRequiredService<LabOptions>().HangfireDashboard;
        app.MapHangfireDashboard("/hangfire", new DashboardOptions
        {
            Authorization = [new DashboardAuthorizationFilter(access)],
            DisplayStorageConnectionString = false,
            AppPath = "/runs",
        });
        // Blazor would append its own "frame-ancestors 'self'" policy to pages; ours already says 'none' on every response.
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode(o => o.ContentSecurityFrameAncestorsPolicy = null)
            .RequireAuthorization(AccountsExtensions.Read);
        return app;
    }
}

/// <summary>
/// The content root is the repository's top level in a source checkout (its appsettings.json, wwwroot/, models/ and
/// data/) and the publish folder after <c>dotnet publish</c>, wherever the command is started from.
/// </summary>
public static class ContentRoot
{
    public static string? Find(string[] args)
    {
        // An explicit --contentRoot (or the test host's) wins.
        if (args.Any(a => a.StartsWith("--contentRoot", StringComparison.OrdinalIgnoreCase))
            || Environment.GetEnvironmentVariable("ASPNETCORE_CONTENTROOT") is not null
            || Environment.GetEnvironmentVariable("DOTNET_CONTENTROOT") is not null)
            return null;
        // The library finds the checkout (or the publish folder) the same way for the zoo.
        if (EquivarianceLab.FeatureModels.RepositoryPaths.Root is { } root && File.Exists(Path.Combine(root, "appsettings.json"))) return root;
        return File.Exists(Path.Combine(AppContext.BaseDirectory, "appsettings.json")) ? AppContext.BaseDirectory : null;
    }
}
