using EquivarianceLab.Web.Data;
using Hangfire;
using Hangfire.States;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Jobs;

/// <summary>Thrown for a request the user can fix; the API turns it into 400 {"error": …}.</summary>
public sealed class RequestException(string message) : Exception(message);

/// <summary>Creates runs and hands them to Hangfire (one job per model, queue "gpu"), cancels and re-runs them.</summary>
public sealed class RunQueue(IDbContextFactory<AppDbContext> dbFactory, IBackgroundJobClient jobs, CancellationRegistry cancellations,
    RunProgressNotifier notifier, TimeProvider time)
{
    public const string GpuQueue = "gpu";

    public async Task<Run> QueueAsync(RunRequest request, CancellationToken ct = default)
    {
        var (transform, similarity, error) = request.Normalise();
        if (error is not null) throw new RequestException(error);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (string.IsNullOrWhiteSpace(request.ModelId)) throw new RequestException("modelId is required.");
        if (!await db.Models.AnyAsync(m => m.Id == request.ModelId, ct)) throw new RequestException($"No model with id '{request.ModelId}'.");
        var probeId = request.ProbeSetId;
        if (string.IsNullOrWhiteSpace(probeId))
            probeId = await db.ProbeSets.Where(p => p.IsDefault).Select(p => p.Id).FirstOrDefaultAsync(ct)
                      ?? throw new RequestException("probeSetId is required (no default probe set is registered).");
        else if (!await db.ProbeSets.AnyAsync(p => p.Id == probeId, ct)) throw new RequestException($"No probe set with id '{probeId}'.");

        var run = new Run
        {
            ModelId = request.ModelId!,
            ProbeSetId = probeId,
            Transform = transform,
            Similarity = similarity,
            Images = request.Images,
            MaxShift = request.MaxShift ?? 16,
            Status = RunStatus.Queued,
            CreatedUtc = time.GetUtcNow().UtcDateTime,
        };
        db.Runs.Add(run);
        await db.SaveChangesAsync(ct);
        await EnqueueAsync(db, run, ct);
        return run;
    }

    /// <summary>Queues the same settings again as a new run (the old one stays as history).</summary>
    public async Task<Run> RerunAsync(int runId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var old = await db.Runs.AsNoTracking().FirstOrDefaultAsync(r => r.Id == runId, ct) ?? throw new RequestException($"No run {runId}.");
        return await QueueAsync(new RunRequest
        {
            ModelId = old.ModelId, ProbeSetId = old.ProbeSetId, Transform = old.Transform, Similarity = old.Similarity,
            Images = old.Images, MaxShift = old.MaxShift,
        }, ct);
    }

    /// <summary>A queued run is cancelled at once; a running one is signalled and ends as cancelled at its next batch.</summary>
    public async Task<bool> CancelAsync(int runId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var run = await db.Runs.FirstOrDefaultAsync(r => r.Id == runId, ct);
        if (run is null || !run.IsActive) return false;
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
        run.HangfireJobId = jobs.Create<MeasurementJob>(j => j.Execute(id, token, CancellationToken.None), new EnqueuedState(GpuQueue));
        await db.SaveChangesAsync(ct);
        notifier.Publish(RunUpdate.From(run));
    }
}
