using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Models;
using EquivarianceLab.Web.ProbeSets;
using EquivarianceLab.Web.Runs;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Startup;

/// <summary>
/// Runs once at start, before the job server (hosted services start in registration order): applies the
/// committed migrations, registers the zoo and the built-in probe set, and recovers runs a crash left behind.
/// </summary>
public sealed class LabInitializer(IServiceProvider services, LabPaths paths, ILogger<LabInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        paths.EnsureCreated();
        var abandoned = Uploads.UploadWriter.RemoveAbandoned(paths.Incoming, TimeSpan.FromDays(1), DateTime.UtcNow);
        if (abandoned > 0) logger.LogInformation("Removed {Count} partial upload(s) left by an earlier process.", abandoned);
        var dbf = services.GetRequiredService<IDbContextFactory<AppDbContext>>();
        await using (var db = await dbf.CreateDbContextAsync(cancellationToken))
        {
            await db.Database.MigrateAsync(cancellationToken);
        }
        await services.GetRequiredService<ModelService>().RegisterZooAsync(cancellationToken);
        await services.GetRequiredService<ProbeSetService>().RegisterBuiltInAsync(cancellationToken);
        await services.GetRequiredService<RunService>().RecoverAsync(services.GetRequiredService<Hangfire.JobStorage>(), cancellationToken);
        logger.LogInformation("EquivarianceLab data folder: {Folder}", paths.DataFolder);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
