using EquivarianceLab.Web.Results;
using System.Diagnostics;
using EquivarianceLab.Cards;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Security;
using Hangfire;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Runs;

/// <summary>
/// The Hangfire job for one run. It takes ids only and reads everything from the database, so a retried or
/// duplicated job is safe: it claims the run (Queued → Running, matching attempt token) or does nothing.
/// </summary>
public sealed class MeasurementJob(IDbContextFactory<AppDbContext> dbFactory, IMeasurementRunner runner, RunProgressNotifier notifier,
    CancellationRegistry cancellations, SafeText safeText, TimeProvider time, ILogger<MeasurementJob> logger)
{
    private IDbContextFactory<AppDbContext> DbFactory => dbFactory;
    private RunProgressNotifier Notifier => notifier;

    /// <summary>Progress reaches the database at most this often (pushes to pages are more frequent).</summary>
    internal static TimeSpan DbWriteInterval { get; set; } = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan PushInterval = TimeSpan.FromMilliseconds(250);

    // Failures are the input's fault (bad model, probe mismatch) and would fail again; restarts are RunRecovery's job.
    [AutomaticRetry(Attempts = 0)]
    [Queue(RunService.GpuQueue)]
    public void Execute(int runId, string attemptToken, CancellationToken cancellationToken)
    {
        if (!TryClaim(runId, attemptToken, out var run)) return;
        var cts = cancellations.Register(runId, cancellationToken);
        try
        {
            var card = CardJson.Parse(run.Model!.CardJson);
            var options = RunRequest.ToOptions(run.Transform, run.Similarity, run.Images, run.MaxShift);
            var progress = new ProgressWriter(this, runId, cts);
            var result = runner.Measure(run.Model.FilePath, card, run.ProbeSet!.FilePath, options, progress, cts.Token);
            Finish(runId, r =>
            {
                ResultStore.Store(r, result);
                r.Status = RunStatus.Done;
                r.ImagesDone = r.ImagesTotal = result.Images;
                r.EtaSeconds = 0;
            });
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            if (cancellationToken.IsCancellationRequested && !UserCancelled(runId))
            {
                // The server is shutting down: hand the run back to the queue; Hangfire re-queues this very job.
                Finish(runId, r => { r.Status = RunStatus.Queued; r.ImagesDone = 0; r.EtaSeconds = null; r.StartedUtc = null; }, finished: false);
                throw;
            }
            Finish(runId, r => r.Status = RunStatus.Cancelled);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Run {RunId} failed.", runId);
            // Stored files are shown by the names users know them by, never by where they live.
            var error = safeText.Clean(LibraryErrors.Describe(e),
                (run.Model!.FilePath, $"'{run.Model.Name}'"), (run.ProbeSet!.FilePath, $"'{run.ProbeSet.Name}'"));
            Finish(runId, r => { r.Status = RunStatus.Failed; r.Error = error; });
        }
        finally
        {
            cancellations.Unregister(runId, cts);
            cts.Dispose();
        }
    }

    private bool TryClaim(int runId, string token, out Run run)
    {
        using var db = dbFactory.CreateDbContext();
        var now = time.GetUtcNow().UtcDateTime;
        // One atomic conditional update: a duplicate or stale job finds nothing to claim.
        var claimed = db.Runs
            .Where(r => r.Id == runId && r.AttemptToken == token && r.Status == RunStatus.Queued && !r.CancelRequested)
            .ExecuteUpdate(s => s
                .SetProperty(r => r.Status, RunStatus.Running)
                .SetProperty(r => r.StartedUtc, now)
                .SetProperty(r => r.Worker, Environment.MachineName)
                .SetProperty(r => r.ImagesDone, 0)
                .SetProperty(r => r.Error, (string?)null));
        run = db.Runs.Include(r => r.Model).Include(r => r.ProbeSet).AsNoTracking().FirstOrDefault(r => r.Id == runId)!;
        if (claimed == 0)
        {
            logger.LogInformation("Run {RunId}: job with a stale attempt or for a run no longer queued; nothing to do.", runId);
            return false;
        }
        notifier.Publish(RunUpdate.From(run));
        return true;
    }

    private bool UserCancelled(int runId)
    {
        using var db = dbFactory.CreateDbContext();
        return db.Runs.Where(r => r.Id == runId).Select(r => r.CancelRequested).FirstOrDefault();
    }

    private void Finish(int runId, Action<Run> update, bool finished = true)
    {
        using var db = dbFactory.CreateDbContext();
        var run = db.Runs.Include(r => r.Layers).Include(r => r.Parts).First(r => r.Id == runId);
        update(run);
        if (finished) run.FinishedUtc = time.GetUtcNow().UtcDateTime;
        db.SaveChanges();
        notifier.Publish(RunUpdate.From(run));
    }

    /// <summary>Throttled: pushes to pages every 250 ms, writes to the database every second and checks for a cancel there.</summary>
    private sealed class ProgressWriter(MeasurementJob job, int runId, CancellationTokenSource cts) : IProgress<MeasureProgress>
    {
        private readonly Stopwatch _sincePush = Stopwatch.StartNew();
        private readonly Stopwatch _sinceWrite = Stopwatch.StartNew();
        private bool _first = true;

        public void Report(MeasureProgress p)
        {
            var last = p.ImagesDone >= p.ImagesTotal;
            var eta = p.Eta?.TotalSeconds;
            if (_first || last || _sinceWrite.Elapsed >= DbWriteInterval)
            {
                _first = false;
                _sinceWrite.Restart();
                using var db = job.DbFactory.CreateDbContext();
                db.Runs.Where(r => r.Id == runId).ExecuteUpdate(s => s
                    .SetProperty(r => r.ImagesDone, p.ImagesDone)
                    .SetProperty(r => r.ImagesTotal, p.ImagesTotal)
                    .SetProperty(r => r.EtaSeconds, eta));
                // A cancel may come from another machine sharing the database.
                if (db.Runs.Where(r => r.Id == runId).Select(r => r.CancelRequested).FirstOrDefault()) cts.Cancel();
            }
            if (last || _sincePush.Elapsed >= PushInterval)
            {
                _sincePush.Restart();
                job.Notifier.Publish(new RunUpdate(runId, RunStatus.Running, p.ImagesDone, p.ImagesTotal, eta, null));
            }
        }
    }
}
