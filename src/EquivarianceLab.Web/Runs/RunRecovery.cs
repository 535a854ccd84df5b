using EquivarianceLab.Web.Data;
using Hangfire;
using Hangfire.States;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Runs;

/// <summary>
/// At start, before the job server runs: a run this machine left "running" (the process died under it) is
/// re-queued with a fresh attempt, up to <see cref="LabOptions.MaxRestarts"/> times, then marked failed with the
/// reason; a "queued" run whose Hangfire job is gone is queued again. Nothing stays "running" after a restart.
/// </summary>
public sealed class RunRecovery(IDbContextFactory<AppDbContext> dbFactory, RunService queue, JobStorage storage, LabOptions options,
    TimeProvider time, ILogger<RunRecovery> logger)
{
    private static readonly HashSet<string> LiveStates =
        new([EnqueuedState.StateName, ProcessingState.StateName, ScheduledState.StateName, AwaitingState.StateName], StringComparer.OrdinalIgnoreCase);

    public async Task RecoverAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var machine = Environment.MachineName;
        var running = await db.Runs.Where(r => r.Status == RunStatus.Running && (r.Worker == null || r.Worker == machine)).ToListAsync(ct);
        foreach (var run in running)
        {
            if (run.CancelRequested)
            {
                run.Status = RunStatus.Cancelled;
                run.FinishedUtc = time.GetUtcNow().UtcDateTime;
            }
            else if (run.Restarts < options.MaxRestarts)
            {
                run.Restarts++;
                run.ImagesDone = 0;
                run.EtaSeconds = null;
                run.StartedUtc = null;
                logger.LogWarning("Run {RunId} was interrupted by a restart; queueing it again (restart {N}).", run.Id, run.Restarts);
                await queue.EnqueueAsync(db, run, ct);
            }
            else
            {
                run.Status = RunStatus.Failed;
                run.FinishedUtc = time.GetUtcNow().UtcDateTime;
                var attempts = run.Restarts + 1;
                run.Error = $"Interrupted by a server restart while running ({attempts} attempt{(attempts == 1 ? "" : "s")}); use Re-run to queue it again.";
                logger.LogWarning("Run {RunId} was interrupted and has no restarts left; marked failed.", run.Id);
            }
        }
        await db.SaveChangesAsync(ct);

        var queued = await db.Runs.Where(r => r.Status == RunStatus.Queued).ToListAsync(ct);
        using var connection = storage.GetConnection();
        foreach (var run in queued)
        {
            var state = run.HangfireJobId is null ? null : connection.GetJobData(run.HangfireJobId)?.State;
            if (state is not null && LiveStates.Contains(state)) continue;
            logger.LogWarning("Run {RunId} was queued but its job is {State}; queueing it again.", run.Id, state ?? "gone");
            await queue.EnqueueAsync(db, run, ct);
        }
    }
}
