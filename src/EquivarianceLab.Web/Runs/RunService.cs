using EquivarianceLab.Web.Accounts;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Models;
using EquivarianceLab.Web.Uploads;
using EquivarianceLab.Web.Workers;
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
/// All run data: queues runs and hands them to Hangfire (one job per run, in the run's queue: cpu or gpu), lists, reads,
/// cancels and re-runs them; the measurement job claims, reports and finishes its run through it (RunService.Leases.cs);
/// at start it recovers what a crash left.
/// </summary>
public sealed partial class RunService(IDbContextFactory<AppDbContext> dbFactory, IBackgroundJobClient jobs, CancellationRegistry cancellations,
    RunProgressNotifier notifier, RunChangeSignal signal, ModelService models, LabOptions options, TimeProvider time, ILogger<RunService> logger)
{
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
            TransformValues = request.StoredValues(transform),
            RequestedLayers = RunRequest.StoredLayers(layers),
            LogitsLayer = layers.Logits,
            Queue = RunQueues.For(request.Device),
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
            Images = old.Images, MaxShift = old.MaxShift,
            Angles = RunRequest.ToOptions(old).Angles, Shifts = RunRequest.ToOptions(old).Shifts, Layers = RunRequest.LayersOf(old).Layers, Logits = old.LogitsLayer,
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

    /// <summary>
    /// A queued run is cancelled at once; a running one is signalled and ends as cancelled at its next batch, on whichever
    /// node holds it; one whose worker is gone (its lease has run out) is closed at once.
    /// </summary>
    public async Task<bool> CancelAsync(int runId, Caller caller, CancellationToken ct = default)
    {
        // The fence is a concurrency token: a worker claiming the run meanwhile makes the save fail, and it is read again.
        for (var attempt = 0; ; attempt++)
        {
            await using var db = await dbFactory.CreateDbContextAsync(ct);
            var run = await db.Runs.FirstOrDefaultAsync(r => r.Id == runId, ct);
            if (run is null) throw RequestException.NotFound($"No run {runId}.");
            if (!caller.MayChange(run.OwnerId)) throw RequestException.Forbidden($"Run {runId} is not yours to cancel.");
            if (!run.IsActive) return false;
            var now = time.GetUtcNow().UtcDateTime;
            run.CancelRequested = true;
            if (run.Status == RunStatus.Queued || run.LeaseExpiresUtc is null || run.LeaseExpiresUtc < now)
            {
                run.Status = RunStatus.Cancelled;
                run.FinishedUtc = now;
                run.Fence++;
                if (run.HangfireJobId is { } jobId) jobs.Delete(jobId);
            }
            try { await db.SaveChangesAsync(ct); }
            catch (DbUpdateConcurrencyException) when (attempt < 3) { continue; }
            // The node that runs it sees CancelRequested at its next progress write or heartbeat; this one may hold it itself.
            await signal.SignalAsync(db, runId, ct);
            cancellations.Cancel(runId);
            notifier.Publish(RunUpdate.From(run));
            return true;
        }
    }

    /// <summary>A Hangfire job for this attempt, named in Hangfire's dashboard by what it measures, not by a method name.</summary>
    private async Task<string> CreateJobAsync(AppDbContext db, int runId, string attemptToken, string modelId, string transform, string queue, CancellationToken ct)
    {
        var model = await db.Models.Where(m => m.Id == modelId).Select(m => m.Name).FirstOrDefaultAsync(ct) ?? modelId;
        var label = $"{model} · {transform} (run {runId})";
        return jobs.Create<MeasurementJob>(j => j.Execute(runId, attemptToken, label, CancellationToken.None), new EnqueuedState(queue));
    }

    /// <summary>Gives the run a fresh attempt token and a Hangfire job; an older job for it becomes a no-op.</summary>
    internal async Task EnqueueAsync(AppDbContext db, Run run, CancellationToken ct)
    {
        run.AttemptToken = Guid.NewGuid().ToString("N");
        run.Status = RunStatus.Queued;
        await db.SaveChangesAsync(ct);
        // Announced before the job exists: once it does, a worker may claim the run at once, and a "queued" published
        // after its "running" would show the run as waiting again.
        await signal.SignalAsync(db, run.Id, ct);
        notifier.Publish(RunUpdate.From(run));
        var jobId = await CreateJobAsync(db, run.Id, run.AttemptToken, run.ModelId, run.Transform, run.Queue, ct);
        // Written by itself, for this attempt only: a worker that has claimed the run already raised its fence, so a
        // save of the tracked row (conditional on the fence it was read with) would fail although the run is queued.
        // The tracked row is let go for the same reason: from here on the worker, not this context, owns it.
        await db.Runs.Where(r => r.Id == run.Id && r.AttemptToken == run.AttemptToken)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.HangfireJobId, jobId), ct);
        db.Entry(run).State = EntityState.Detached;
        run.HangfireJobId = jobId;
    }

    // ---- after a crash ----

    private static readonly HashSet<string> LiveStates =
        new([EnqueuedState.StateName, ProcessingState.StateName, ScheduledState.StateName, AwaitingState.StateName], StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// At start, before the job server runs: runs whose worker died are taken back (<see cref="SweepExpiredLeasesAsync"/>),
    /// and a "queued" run whose Hangfire job is gone is queued again.
    /// </summary>
    public async Task RecoverAsync(JobStorage storage, CancellationToken ct = default)
    {
        await SweepExpiredLeasesAsync(ct);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
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
