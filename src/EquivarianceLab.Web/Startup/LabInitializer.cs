using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Models;
using EquivarianceLab.Web.ProbeSets;
using EquivarianceLab.Web.Runs;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Startup;

/// <summary>
/// Runs once at start, before the job server (hosted services start in registration order): applies the
/// committed migrations and registers the zoo and the built-in probe sets (under the start-up lock), and recovers runs
/// a crash left behind.
/// </summary>
public sealed class LabInitializer(IServiceProvider services, LabPaths paths, LabOptions options, ILogger<LabInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        paths.EnsureCreated();
        var abandoned = Uploads.UploadWriter.RemoveAbandoned(paths.Incoming, TimeSpan.FromDays(1), DateTime.UtcNow);
        if (abandoned > 0) logger.LogInformation("Removed {Count} partial upload(s) left by an earlier process.", abandoned);
        // Several nodes may start together on one database: one at a time migrates and registers, the others then
        // find it done (docs/dashboard.md, "Several nodes").
        var startup = services.GetRequiredService<StartupLock>();
        await startup.RunAsync(async ct =>
        {
            if (options.MigrateAtStart) await startup.ApplyMigrationsAsync(ct);
            else if (await startup.PendingMigrationsAsync(ct) is { Count: > 0 } pending)
                throw new InvalidOperationException(
                    $"The database lacks {pending.Count} migration(s) ({string.Join(", ", pending)}) and EquivarianceLab:MigrateAtStart is false: " +
                    "run 'eqlab db migrate' with this server's settings first.");
            await services.GetRequiredService<Storage.LegacyFiles>().MoveIntoStoreAsync(ct);
            await services.GetRequiredService<ModelService>().RegisterZooAsync(ct);
            await services.GetRequiredService<ProbeSetService>().RegisterBuiltInAsync(ct);
        }, cancellationToken);
        await services.GetRequiredService<RunService>().RecoverAsync(services.GetRequiredService<Hangfire.JobStorage>(), cancellationToken);
        logger.LogInformation("EquivarianceLab data folder: {Folder}", paths.DataFolder);
        // The addresses are known once the server listens: say plainly when nobody can sign in yet.
        var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
        var local = services.GetRequiredService<Accounts.LocalAccess>();
        lifetime.ApplicationStarted.Register(() => _ = WarnWithoutAccountsAsync(local));
    }

    private async Task WarnWithoutAccountsAsync(Accounts.LocalAccess local)
    {
        try
        {
            if (local.ListensOnLoopbackOnly() || await local.AnyAccountAsync(CancellationToken.None)) return;
            logger.LogWarning("The server listens beyond this machine and has no accounts, so nobody can change anything yet. Make an admin with: eqlab users add NAME --role admin");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Could not check for accounts.");
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
