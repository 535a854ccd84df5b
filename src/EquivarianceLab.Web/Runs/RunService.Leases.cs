using EquivarianceLab.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Runs;

/// <summary>A run a worker claimed: the run (with its model and probe set) and the fence its writes must carry.</summary>
public sealed record ClaimedRun(Run Run, int Fence);

/// <summary>What a progress write learned: go on, stop because someone cancelled, or stop because the run changed hands.</summary>
public enum LeaseState { Held, CancelRequested, Lost }

/// <summary>
/// What the measurement job does to its run, and how a run whose worker died is taken back. A running run is owned by
/// a lease: the worker that claimed it (<see cref="Run.Worker"/>) until <see cref="Run.LeaseExpiresUtc"/>, renewed by
/// its heartbeat. Every change of hands raises <see cref="Run.Fence"/>, and every write of the worker is conditional on
/// the fence it claimed with, so a worker that lost its run (paused, cut off, presumed dead) can write nothing more.
/// Synchronous where the job calls it: Hangfire runs the job on its own thread.
/// </summary>
public sealed partial class RunService
{
    private TimeSpan Lease => options.Leases.Duration;

    /// <summary>
    /// Claims a queued run for this attempt (Queued → Running) in one atomic conditional update, and returns it with
    /// its model, probe set and fence; null when a duplicate or stale job finds nothing to claim.
    /// </summary>
    public ClaimedRun? Claim(int runId, string attemptToken, string worker, string device)
    {
        using var db = dbFactory.CreateDbContext();
        var now = time.GetUtcNow().UtcDateTime;
        var claimed = db.Runs
            .Where(r => r.Id == runId && r.AttemptToken == attemptToken && r.Status == RunStatus.Queued && !r.CancelRequested)
            .ExecuteUpdate(s => s
                .SetProperty(r => r.Status, RunStatus.Running)
                .SetProperty(r => r.StartedUtc, now)
                .SetProperty(r => r.Worker, worker)
                .SetProperty(r => r.Device, device)
                .SetProperty(r => r.LeaseExpiresUtc, now + Lease)
                .SetProperty(r => r.Fence, r => r.Fence + 1)
                .SetProperty(r => r.ImagesDone, 0)
                .SetProperty(r => r.Error, (string?)null));
        if (claimed == 0) return null;
        signal.Signal(db, runId);
        var run = db.Runs.Include(r => r.Model).Include(r => r.ProbeSet).AsNoTracking().First(r => r.Id == runId);
        // Read back after the claim: only a later change of hands (which also changes the attempt token) could move it.
        if (run.AttemptToken != attemptToken || run.Worker != worker) return null;
        notifier.Publish(RunUpdate.From(run));
        return new ClaimedRun(run, run.Fence);
    }

    /// <summary>The queue a run waits in (it never changes), or null when there is no such run.</summary>
    public string? QueueOf(int runId)
    {
        using var db = dbFactory.CreateDbContext();
        return db.Runs.Where(r => r.Id == runId).Select(r => r.Queue).FirstOrDefault();
    }

    /// <summary>The heartbeat: extends the lease while the fence still holds; otherwise says why not.</summary>
    public LeaseState RenewLease(int runId, int fence)
    {
        using var db = dbFactory.CreateDbContext();
        var until = time.GetUtcNow().UtcDateTime + Lease;
        var renewed = db.Runs.Where(r => r.Id == runId && r.Fence == fence && r.Status == RunStatus.Running)
            .ExecuteUpdate(s => s.SetProperty(r => r.LeaseExpiresUtc, until));
        if (renewed == 0) return LeaseState.Lost;
        return db.Runs.Where(r => r.Id == runId).Select(r => r.CancelRequested).FirstOrDefault() ? LeaseState.CancelRequested : LeaseState.Held;
    }

    /// <summary>Writes a running run's progress (and renews its lease) if the fence still holds.</summary>
    public LeaseState WriteProgress(int runId, int fence, int imagesDone, int imagesTotal, double? etaSeconds)
    {
        using var db = dbFactory.CreateDbContext();
        var until = time.GetUtcNow().UtcDateTime + Lease;
        var written = db.Runs.Where(r => r.Id == runId && r.Fence == fence && r.Status == RunStatus.Running).ExecuteUpdate(s => s
            .SetProperty(r => r.ImagesDone, imagesDone)
            .SetProperty(r => r.ImagesTotal, imagesTotal)
            .SetProperty(r => r.EtaSeconds, etaSeconds)
            .SetProperty(r => r.LeaseExpiresUtc, until));
        if (written == 0) return LeaseState.Lost;
        signal.Signal(db, runId);
        return db.Runs.Where(r => r.Id == runId).Select(r => r.CancelRequested).FirstOrDefault() ? LeaseState.CancelRequested : LeaseState.Held;
    }

    public bool IsCancelRequested(int runId)
    {
        using var db = dbFactory.CreateDbContext();
        return db.Runs.Where(r => r.Id == runId).Select(r => r.CancelRequested).FirstOrDefault();
    }

    /// <summary>
    /// Applies the job's final update (result, status, error) and tells open pages — only while the run is still this
    /// worker's: the fence is the update's concurrency token. Returns false (and writes nothing) for a stale worker.
    /// </summary>
    public bool Finish(int runId, int fence, Action<Run> update, bool finished = true)
    {
        using var db = dbFactory.CreateDbContext();
        var run = db.Runs.Include(r => r.Layers).Include(r => r.Parts).First(r => r.Id == runId);
        if (run.Fence != fence || run.Status != RunStatus.Running) return Refused(runId, fence, run.Fence);
        update(run);
        run.LeaseExpiresUtc = null;
        if (finished) run.FinishedUtc = time.GetUtcNow().UtcDateTime;
        try { db.SaveChanges(); }
        catch (DbUpdateConcurrencyException) { return Refused(runId, fence, null); }
        signal.Signal(db, runId);
        notifier.Publish(RunUpdate.From(run));
        return true;
    }

    private bool Refused(int runId, int fence, int? current)
    {
        logger.LogWarning("Run {RunId}: a write with fence {Fence} was refused (the run is now at fence {Current}); another worker holds it or it was closed.",
            runId, fence, current?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "newer");
        return false;
    }

    /// <summary>
    /// Takes back every running run whose lease has run out (its worker died or lost the database): cancelled if a
    /// cancel was asked, queued again with a fresh attempt and a new Hangfire job up to <see cref="LabOptions.MaxRestarts"/>
    /// times, then failed with the reason. Each step is one conditional update on the fence, so when every node
    /// sweeps at once exactly one of them takes a run back. Returns how many runs it took back.
    /// </summary>
    public async Task<int> SweepExpiredLeasesAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = time.GetUtcNow().UtcDateTime;
        var expired = await db.Runs.AsNoTracking()
            .Where(r => r.Status == RunStatus.Running && (r.LeaseExpiresUtc == null || r.LeaseExpiresUtc < now))
            .Select(r => new { r.Id, r.Fence, r.Restarts, r.CancelRequested, r.Worker, r.Queue, r.ModelId, r.Transform })
            .ToListAsync(ct);
        var taken = 0;
        foreach (var run in expired)
        {
            var mine = db.Runs.Where(r => r.Id == run.Id && r.Fence == run.Fence && r.Status == RunStatus.Running);
            int changed;
            if (run.CancelRequested)
            {
                changed = await mine.ExecuteUpdateAsync(s => s
                    .SetProperty(r => r.Status, RunStatus.Cancelled).SetProperty(r => r.FinishedUtc, now)
                    .SetProperty(r => r.LeaseExpiresUtc, (DateTime?)null).SetProperty(r => r.Fence, r => r.Fence + 1), ct);
            }
            else if (run.Restarts < options.MaxRestarts)
            {
                var token = Guid.NewGuid().ToString("N");
                changed = await mine.ExecuteUpdateAsync(s => s
                    .SetProperty(r => r.Status, RunStatus.Queued).SetProperty(r => r.AttemptToken, token)
                    .SetProperty(r => r.Restarts, r => r.Restarts + 1).SetProperty(r => r.Fence, r => r.Fence + 1)
                    .SetProperty(r => r.ImagesDone, 0).SetProperty(r => r.EtaSeconds, (double?)null)
                    .SetProperty(r => r.StartedUtc, (DateTime?)null).SetProperty(r => r.LeaseExpiresUtc, (DateTime?)null), ct);
                if (changed == 1)
                {
                    var jobId = await CreateJobAsync(db, run.Id, token, run.ModelId, run.Transform, run.Queue, ct);
                    await db.Runs.Where(r => r.Id == run.Id && r.AttemptToken == token).ExecuteUpdateAsync(s => s.SetProperty(r => r.HangfireJobId, jobId), ct);
                    logger.LogWarning("Run {RunId}: the lease of worker {Worker} ran out; queued again (restart {N}).", run.Id, run.Worker, run.Restarts + 1);
                }
            }
            else
            {
                var attempts = run.Restarts + 1;
                var error = $"Interrupted: its worker stopped answering while it ran ({attempts} attempt{(attempts == 1 ? "" : "s")}); use Re-run to queue it again.";
                changed = await mine.ExecuteUpdateAsync(s => s
                    .SetProperty(r => r.Status, RunStatus.Failed).SetProperty(r => r.Error, error).SetProperty(r => r.FinishedUtc, now)
                    .SetProperty(r => r.LeaseExpiresUtc, (DateTime?)null).SetProperty(r => r.Fence, r => r.Fence + 1), ct);
                if (changed == 1) logger.LogWarning("Run {RunId}: the lease of worker {Worker} ran out and it has no restarts left; marked failed.", run.Id, run.Worker);
            }
            if (changed == 0) continue;
            taken++;
            await signal.SignalAsync(db, run.Id, ct);
            if (await db.Runs.AsNoTracking().FirstOrDefaultAsync(r => r.Id == run.Id, ct) is { } after) notifier.Publish(RunUpdate.From(after));
        }
        return taken;
    }
}

/// <summary>On every node: looks for runs whose worker's lease ran out, once per heartbeat interval.</summary>
public sealed class RunLeaseSweeper(RunService runs, LabOptions options, ILogger<RunLeaseSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Leases.Heartbeat);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try { await runs.SweepExpiredLeasesAsync(stoppingToken); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The database may be briefly unreachable; the next tick tries again.
                logger.LogWarning(e, "Looking for runs with expired leases failed.");
            }
        }
    }
}
