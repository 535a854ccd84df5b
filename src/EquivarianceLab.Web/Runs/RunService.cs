using EquivarianceLab.Web.Accounts;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Models;
using EquivarianceLab.Web.Uploads;
using Hangfire;
using Hangfire.States;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Runs;

/// <summary>Which runs a list shows; null or empty means any.</summary>
public sealed record RunFilter(string? ModelId = null, string? ProbeSetId = null, string? Transform = null, RunStatus? Status = null)
{
    public const int DefaultPageSize = 100, MaxPageSize = 1000;
}

/// <summary>
/// All run data: queues runs and hands them to Hangfire (one job per run, queue "gpu"), lists, reads, cancels and re-runs
/// them; the measurement job claims, reports and finishes its run through it; at start it recovers what a crash left.
/// </summary>
public sealed class RunService(IDbContextFactory<AppDbContext> dbFactory, IBackgroundJobClient jobs, CancellationRegistry cancellations,
    RunProgressNotifier notifier, ModelService models, LabOptions options, TimeProvider time, ILogger<RunService> logger)
{
    public const string GpuQueue = "gpu";

    public async Task<Run> QueueAsync(RunRequest request, Caller caller, CancellationToken ct = default)
    {
        if (!caller.IsSignedIn) throw RequestException.Forbidden("Sign in to queue runs.");
        var (transform, similarity) = request.Validate();
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (string.IsNullOrWhiteSpace(request.ModelId)) throw RequestException.Invalid("modelId", "modelId is required.");
        var model = request.ModelId.Length > UploadNames.MaxIdLength ? null
            : await db.Models.AsNoTracking().Where(m => m.Id == request.ModelId).Select(m => new { m.Name, m.CardJson, m.InputShape }).FirstOrDefaultAsync(ct);
        if (model is null) throw RequestException.NotFound($"No model with id '{UploadNames.ShownId(request.ModelId)}'.", "modelId");
        var maxShift = RunRequest.CheckMaxShift(request.MaxShift, transform, CardJson.Parse(model.CardJson).InputShape);
        var asked = request.ProbeSetId;
        var probe = string.IsNullOrWhiteSpace(asked)
            ? await db.ProbeSets.Where(p => p.IsDefault).Select(p => new { p.Id, p.Name, p.Kind, p.ImageShape }).FirstOrDefaultAsync(ct)
              ?? throw RequestException.Invalid("probeSetId", "probeSetId is required (no default probe set is registered).")
            : (asked.Length > UploadNames.MaxIdLength ? null
                  : await db.ProbeSets.Where(p => p.Id == asked).Select(p => new { p.Id, p.Name, p.Kind, p.ImageShape }).FirstOrDefaultAsync(ct))
              ?? throw RequestException.NotFound($"No probe set with id '{UploadNames.ShownId(asked)}'.", "probeSetId");
        // A .npy set is fed to the model as it is: its images must have the model's input shape (image archives and the
        // built-in set are decoded to it). Refused now, naming both, rather than failing in the worker later.
        if (probe.Kind == "npy" && probe.ImageShape.Length > 0 && model.InputShape.Length > 0 && probe.ImageShape != model.InputShape)
            throw RequestException.Invalid("probeSetId", $"Probe set '{probe.Name}' holds {probe.ImageShape} images, but model '{model.Name}' takes {model.InputShape}.");

        // Layer names are checked against the model's listing (opened by a worker the first time for a zoo model).
        var layers = request.Layers is { Count: > 0 } || request.Logits is not null
            ? request.CheckLayers(await models.LayersAsync(request.ModelId!, ct) ?? [], model.Name)
            : LayerChoice.Default;

        if (caller.UserId is { } owner
            && await db.Runs.CountAsync(r => r.OwnerId == owner && (r.Status == RunStatus.Queued || r.Status == RunStatus.Running), ct) >= options.RateLimits.MaxActiveRunsPerUser)
            throw RequestException.OverQuota($"You have {options.RateLimits.MaxActiveRunsPerUser} runs queued or running, the most one account may; queue more when some have finished.", TimeSpan.FromMinutes(1));

        var run = new Run
        {
            ModelId = request.ModelId!,
            ProbeSetId = probe.Id,
            Transform = transform,
            Similarity = similarity,
            Images = request.Images,
            MaxShift = maxShift,
            RequestedLayers = RunRequest.StoredLayers(layers),
            LogitsLayer = layers.Logits,
            Status = RunStatus.Queued,
            CreatedUtc = time.GetUtcNow().UtcDateTime,
            OwnerId = caller.UserId,
            OwnerName = caller.OwnerName,
        };
        db.Runs.Add(run);
        await db.SaveChangesAsync(ct);
        await EnqueueAsync(db, run, ct);
        return run;
    }

    /// <summary>Runs newest first, with their model and probe set, filtered and paged; and how many match in all.</summary>
    public async Task<(List<Run> Runs, int Total)> ListAsync(RunFilter filter, int page = 1, int pageSize = RunFilter.DefaultPageSize, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var q = db.Runs.AsNoTracking().Include(r => r.Model).Include(r => r.ProbeSet).AsQueryable();
        if (filter.Status is { } status) q = q.Where(r => r.Status == status);
        if (!string.IsNullOrEmpty(filter.ModelId)) q = q.Where(r => r.ModelId == filter.ModelId);
        if (!string.IsNullOrEmpty(filter.ProbeSetId)) q = q.Where(r => r.ProbeSetId == filter.ProbeSetId);
        if (!string.IsNullOrEmpty(filter.Transform)) q = q.Where(r => r.Transform == filter.Transform);
        var total = await q.CountAsync(ct);
        var runs = await q.OrderByDescending(r => r.Id).Skip((page - 1) * pageSize).Take(pageSize).ToListAsync(ct);
        return (runs, total);
    }

    /// <summary>One run with its model and probe set.</summary>
    public async Task<Run?> FindAsync(int id, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Runs.AsNoTracking().Include(r => r.Model).Include(r => r.ProbeSet).FirstOrDefaultAsync(r => r.Id == id, ct);
    }

    /// <summary>A run that has a result, or null.</summary>
    public async Task<Run?> FindDoneAsync(int id, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Runs.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id && r.ResultJson != null, ct);
    }

    /// <summary>How many runs are done and how many are queued or running (the home page).</summary>
    public async Task<(int Done, int Active)> CountsAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return (await db.Runs.CountAsync(r => r.Status == RunStatus.Done, ct),
            await db.Runs.CountAsync(r => r.Status == RunStatus.Queued || r.Status == RunStatus.Running, ct));
    }

    /// <summary>Queues the same settings again as a new run (the old one stays as history).</summary>
    public async Task<Run> RerunAsync(int runId, Caller caller, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var old = await db.Runs.AsNoTracking().FirstOrDefaultAsync(r => r.Id == runId, ct) ?? throw RequestException.NotFound($"No run {runId}.");
        if (!caller.MayChange(old.OwnerId)) throw RequestException.Forbidden($"Run {runId} is not yours to re-run.");
        return await QueueAsync(new RunRequest
        {
            ModelId = old.ModelId, ProbeSetId = old.ProbeSetId, Transform = old.Transform, Similarity = old.Similarity,
            Images = old.Images, MaxShift = old.MaxShift, Layers = RunRequest.LayersOf(old).Layers, Logits = old.LogitsLayer,
        }, caller, ct);
    }

    /// <summary>Deletes a finished, failed or cancelled run with its scores (its owner or an admin); a live one must be cancelled first.</summary>
    public async Task DeleteAsync(int runId, Caller caller, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var run = await db.Runs.AsNoTracking().FirstOrDefaultAsync(r => r.Id == runId, ct) ?? throw RequestException.NotFound($"No run {runId}.");
        if (!caller.MayChange(run.OwnerId)) throw RequestException.Forbidden($"Run {runId} is not yours to delete.");
        if (run.IsActive) throw RequestException.Conflict($"Run {runId} is {run.Status.ToString().ToLowerInvariant()}: cancel it first.");
        // Scores go with the run (cascade); nothing else refers to a run.
        await db.Runs.Where(r => r.Id == runId).ExecuteDeleteAsync(ct);
    }

    /// <summary>A queued run is cancelled at once; a running one is signalled and ends as cancelled at its next batch.</summary>
    public async Task<bool> CancelAsync(int runId, Caller caller, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var run = await db.Runs.FirstOrDefaultAsync(r => r.Id == runId, ct);
        if (run is null) throw RequestException.NotFound($"No run {runId}.");
        if (!caller.MayChange(run.OwnerId)) throw RequestException.Forbidden($"Run {runId} is not yours to cancel.");
        if (!run.IsActive) return false;
        run.CancelRequested = true;
        if (run.Status == RunStatus.Queued)
        {
            run.Status = RunStatus.Cancelled;
            run.FinishedUtc = time.GetUtcNow().UtcDateTime;
            if (run.HangfireJobId is { } jobId) jobs.Delete(jobId);
        }
        await db.SaveChangesAsync(ct);
        // Another worker machine sees CancelRequested at its next progress write.
        cancellations.Cancel(runId);
        notifier.Publish(RunUpdate.From(run));
        return true;
    }

    /// <summary>Gives the run a fresh attempt token and a Hangfire job; an older job for it becomes a no-op.</summary>
    internal async Task EnqueueAsync(AppDbContext db, Run run, CancellationToken ct)
    {
        run.AttemptToken = Guid.NewGuid().ToString("N");
        run.Status = RunStatus.Queued;
        await db.SaveChangesAsync(ct);
        var token = run.AttemptToken;
        var id = run.Id;
        // The job's name in Hangfire's dashboard: what is measured, not a method name.
        var model = await db.Models.Where(m => m.Id == run.ModelId).Select(m => m.Name).FirstOrDefaultAsync(ct) ?? run.ModelId;
        var label = $"{model} · {run.Transform} (run {id})";
        run.HangfireJobId = jobs.Create<MeasurementJob>(j => j.Execute(id, token, label, CancellationToken.None), new EnqueuedState(GpuQueue));
        await db.SaveChangesAsync(ct);
        notifier.Publish(RunUpdate.From(run));
    }

    // ---- what the measurement job does to its run (synchronous: Hangfire runs the job on its own thread) ----

    /// <summary>
    /// Claims a queued run for this attempt (Queued → Running) in one atomic conditional update, and returns it with its
    /// model and probe set; null when a duplicate or stale job finds nothing to claim.
    /// </summary>
    public Run? Claim(int runId, string attemptToken, string worker)
    {
        using var db = dbFactory.CreateDbContext();
        var now = time.GetUtcNow().UtcDateTime;
        var claimed = db.Runs
            .Where(r => r.Id == runId && r.AttemptToken == attemptToken && r.Status == RunStatus.Queued && !r.CancelRequested)
            .ExecuteUpdate(s => s
                .SetProperty(r => r.Status, RunStatus.Running)
                .SetProperty(r => r.StartedUtc, now)
                .SetProperty(r => r.Worker, worker)
                .SetProperty(r => r.ImagesDone, 0)
                .SetProperty(r => r.Error, (string?)null));
        if (claimed == 0) return null;
        var run = db.Runs.Include(r => r.Model).Include(r => r.ProbeSet).AsNoTracking().First(r => r.Id == runId);
        notifier.Publish(RunUpdate.From(run));
        return run;
    }

    public bool IsCancelRequested(int runId)
    {
        using var db = dbFactory.CreateDbContext();
        return db.Runs.Where(r => r.Id == runId).Select(r => r.CancelRequested).FirstOrDefault();
    }

    /// <summary>Writes a running run's progress; returns whether someone (on any machine) asked to cancel it.</summary>
    public bool WriteProgress(int runId, int imagesDone, int imagesTotal, double? etaSeconds)
    {
        using var db = dbFactory.CreateDbContext();
        db.Runs.Where(r => r.Id == runId).ExecuteUpdate(s => s
            .SetProperty(r => r.ImagesDone, imagesDone)
            .SetProperty(r => r.ImagesTotal, imagesTotal)
            .SetProperty(r => r.EtaSeconds, etaSeconds));
        return db.Runs.Where(r => r.Id == runId).Select(r => r.CancelRequested).FirstOrDefault();
    }

    /// <summary>Applies the job's final update (result, status, error) and tells open pages.</summary>
    public void Finish(int runId, Action<Run> update, bool finished = true)
    {
        using var db = dbFactory.CreateDbContext();
        var run = db.Runs.Include(r => r.Layers).Include(r => r.Parts).First(r => r.Id == runId);
        update(run);
        if (finished) run.FinishedUtc = time.GetUtcNow().UtcDateTime;
        db.SaveChanges();
        notifier.Publish(RunUpdate.From(run));
    }

    // ---- after a crash ----

    private static readonly HashSet<string> LiveStates =
        new([EnqueuedState.StateName, ProcessingState.StateName, ScheduledState.StateName, AwaitingState.StateName], StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// At start, before the job server runs: a run this machine left "running" (the process died under it) is
    /// re-queued with a fresh attempt, up to <see cref="LabOptions.MaxRestarts"/> times, then marked failed with the
    /// reason; a "queued" run whose Hangfire job is gone is queued again. Nothing stays "running" after a restart.
    /// </summary>
    public async Task RecoverAsync(JobStorage storage, CancellationToken ct = default)
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
                await EnqueueAsync(db, run, ct);
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
            await EnqueueAsync(db, run, ct);
        }
    }
}
