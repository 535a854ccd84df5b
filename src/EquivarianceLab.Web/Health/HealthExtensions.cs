using System.Text.Json;
using EquivarianceLab.Web.Data;
using Hangfire;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace EquivarianceLab.Web.Health;

/// <summary>
/// <c>/health/live</c> (the process answers) and <c>/health/ready</c> (the app database, Hangfire's storage and the data
/// folder all work): 200 or 503, with every check and, for a failing one, what failed.
/// </summary>
public static class HealthExtensions
{
    private const string Ready = "ready";

    public static IServiceCollection AddEquivarianceLabHealth(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<DatabaseCheck>("database", tags: [Ready])
            .AddCheck<HangfireStorageCheck>("hangfire-storage", tags: [Ready])
            .AddCheck<DataFolderCheck>("data-folder", tags: [Ready])
            .AddCheck<StoreCheck>("store", tags: [Ready]);
        return services;
    }

    public static WebApplication MapEquivarianceLabHealth(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(Ready), ResponseWriter = WriteAsync });
        return app;
    }

    /// <summary>{"status": "Unhealthy", "checks": [{"name": "data-folder", "status": "Unhealthy", "description": "…"}]} — no exception details.</summary>
    private static Task WriteAsync(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = "application/json; charset=utf-8";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.Select(e => new { name = e.Key, status = e.Value.Status.ToString(), description = e.Value.Description }),
        };
        return http.Response.WriteAsync(JsonSerializer.Serialize(body, Api.ApiJson.Options));
    }

    /// <summary>The application database answers a query.</summary>
    private sealed class DatabaseCheck(IDbContextFactory<AppDbContext> dbFactory) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
        {
            try
            {
                await using var db = await dbFactory.CreateDbContextAsync(ct);
                if (!await db.Database.CanConnectAsync(ct)) return HealthCheckResult.Unhealthy("The application database cannot be reached.");
                await db.Models.AnyAsync(ct); // a query on the app's own table: migrated, not just reachable
                return HealthCheckResult.Healthy("The application database answers.");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return HealthCheckResult.Unhealthy($"The application database cannot be queried ({e.GetType().Name}).");
            }
        }
    }

    /// <summary>Hangfire's storage answers (the queue every node shares).</summary>
    private sealed class HangfireStorageCheck(JobStorage storage) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
        {
            try
            {
                storage.GetMonitoringApi().GetStatistics();
                return Task.FromResult(HealthCheckResult.Healthy("Hangfire's storage answers."));
            }
            catch (Exception e)
            {
                return Task.FromResult(HealthCheckResult.Unhealthy($"Hangfire's storage cannot be reached ({e.GetType().Name})."));
            }
        }
    }

    /// <summary>The content-addressed store (a folder or an S3 bucket) can be reached and written.</summary>
    private sealed class StoreCheck(Storage.IObjectStore store) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(10));
                await store.CheckAsync(timeout.Token);
                return HealthCheckResult.Healthy($"The {store.Description} answers.");
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // Named by the setting, never by address or credentials.
                return HealthCheckResult.Unhealthy($"The {store.Description} (EquivarianceLab:Storage) cannot be written ({e.GetType().Name}).");
            }
        }
    }

    /// <summary>Uploads and results can be written: a file is created and deleted in the data folder.</summary>
    private sealed class DataFolderCheck(LabPaths paths) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
        {
            var probe = Path.Combine(paths.Incoming, $".health-{Guid.NewGuid():N}");
            try
            {
                File.WriteAllBytes(probe, [1]);
                File.Delete(probe);
                return Task.FromResult(HealthCheckResult.Healthy("The data folder is writable."));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The folder's name is the setting's, not the server's path.
                return Task.FromResult(HealthCheckResult.Unhealthy($"The data folder (EquivarianceLab:DataFolder) is not writable ({e.GetType().Name})."));
            }
        }
    }
}
