using EquivarianceLab.Web.Results;
using System.Diagnostics;
using EquivarianceLab.Cards;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Security;
using Hangfire;

namespace EquivarianceLab.Web.Runs;

/// <summary>
/// The Hangfire job for one run. It takes ids only and reads everything from the database, so a retried or
/// duplicated job is safe: it claims the run (Queued → Running, matching attempt token) or does nothing.
/// </summary>
public sealed class MeasurementJob(RunService runs, IMeasurementRunner runner, RunProgressNotifier notifier,
    CancellationRegistry cancellations, SafeText safeText, ILogger<MeasurementJob> logger)
{
    private RunService Runs => runs;
    private RunProgressNotifier Notifier => notifier;

    /// <summary>Progress reaches the database at most this often (pushes to pages are more frequent).</summary>
    internal static TimeSpan DbWriteInterval { get; set; } = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan PushInterval = TimeSpan.FromMilliseconds(250);

    // Failures are the input's fault (bad model, probe mismatch) and would fail again; restarts are RunService.RecoverAsync's job.
    [AutomaticRetry(Attempts = 0)]
    [Queue(RunService.GpuQueue)]
    [JobDisplayName("Measure {2}")]
    public void Execute(int runId, string attemptToken, string label, CancellationToken cancellationToken)
    {
        if (runs.Claim(runId, attemptToken, Environment.MachineName) is not { } run)
        {
            logger.LogInformation("Run {RunId}: job with a stale attempt or for a run no longer queued; nothing to do.", runId);
            return;
        }
        var cts = cancellations.Register(runId, cancellationToken);
        try
        {
            var card = CardJson.Parse(run.Model!.CardJson);
            var options = RunRequest.ToOptions(run.Transform, run.Similarity, run.Images, run.MaxShift);
            var progress = new ProgressWriter(this, runId, cts);
            var result = runner.Measure(run.Model.FilePath, card, run.ProbeSet!.FilePath, options, RunRequest.LayersOf(run), progress, cts.Token);
            runs.Finish(runId, r =>
            {
                ResultStore.Store(r, result);
                r.Status = RunStatus.Done;
                r.ImagesDone = r.ImagesTotal = result.Images;
                r.EtaSeconds = 0;
            });
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            if (cancellationToken.IsCancellationRequested && !runs.IsCancelRequested(runId))
            {
                // The server is shutting down: hand the run back to the queue; Hangfire re-queues this very job.
                runs.Finish(runId, r => { r.Status = RunStatus.Queued; r.ImagesDone = 0; r.EtaSeconds = null; r.StartedUtc = null; }, finished: false);
                throw;
            }
            runs.Finish(runId, r => r.Status = RunStatus.Cancelled);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Run {RunId} failed.", runId);
            // Stored files are shown by the names users know them by, never by where they live.
            var error = safeText.Clean(LibraryErrors.Describe(e),
                (run.Model!.FilePath, $"'{run.Model.Name}'"), (run.ProbeSet!.FilePath, $"'{run.ProbeSet.Name}'"));
            runs.Finish(runId, r => { r.Status = RunStatus.Failed; r.Error = error; });
            // The run is closed; failing the job too puts it in Hangfire's Failed list, where an admin looks.
            throw new MeasurementFailedException($"Run {runId} failed: {error}");
        }
        finally
        {
            cancellations.Unregister(runId, cts);
            cts.Dispose();
        }
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
                // A cancel may come from another machine sharing the database.
                if (job.Runs.WriteProgress(runId, p.ImagesDone, p.ImagesTotal, eta)) cts.Cancel();
            }
            if (last || _sincePush.Elapsed >= PushInterval)
            {
                _sincePush.Restart();
                job.Notifier.Publish(new RunUpdate(runId, RunStatus.Running, p.ImagesDone, p.ImagesTotal, eta, null));
            }
        }
    }
}

/// <summary>Thrown after a failed run is recorded, so the Hangfire job ends Failed as well (its message is the run's error).</summary>
public sealed class MeasurementFailedException(string message) : Exception(message);
