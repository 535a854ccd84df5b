using EquivarianceLab.Web.Results;
using System.Diagnostics;
using EquivarianceLab.Cards;
using EquivarianceLab.Compute;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Security;
using EquivarianceLab.Web.Storage;
using EquivarianceLab.Web.Workers;
using Hangfire;

namespace EquivarianceLab.Web.Runs;

/// <summary>
/// The Hangfire job for one run. It takes ids only and reads everything from the database, so a retried or
/// duplicated job is safe: it claims the run (Queued → Running, matching attempt token) or does nothing.
/// </summary>
public sealed class MeasurementJob(RunService runs, IMeasurementRunner runner, RunProgressNotifier notifier, StoredFiles files,
    WorkerIdentity worker, LabOptions options, CancellationRegistry cancellations, SafeText safeText, ILogger<MeasurementJob> logger)
{
    private RunService Runs => runs;
    private RunProgressNotifier Notifier => notifier;
    private ILogger Logger => logger;

    /// <summary>Progress reaches the database at most this often (pushes to pages are more frequent).</summary>
    internal static TimeSpan DbWriteInterval { get; set; } = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan PushInterval = TimeSpan.FromMilliseconds(250);

    // Failures are the input's fault (bad model, probe mismatch) and would fail again; a dead worker's run is taken
    // back by RunService.SweepExpiredLeasesAsync, not by Hangfire's retries.
    [AutomaticRetry(Attempts = 0)]
    [JobDisplayName("Measure {2}")]
    public void Execute(int runId, string attemptToken, string label, CancellationToken cancellationToken)
    {
        // The run's queue names its device, and the claim records it: a gpu run is measured with CUDA, a cpu run on the CPU.
        var device = WorkerIdentity.DeviceFor(runs.QueueOf(runId));
        if (runs.Claim(runId, attemptToken, worker.Id, device.Name()) is not { } claimed)
        {
            logger.LogInformation("Run {RunId}: job with a stale attempt or for a run no longer queued; nothing to do.", runId);
            return;
        }
        var (run, fence) = claimed;
        var cts = cancellations.Register(runId, cancellationToken);
        var lease = new LeaseKeeper(this, runId, fence, cts);
        using var heartbeat = new Timer(_ => lease.Renew(), null, options.Leases.Heartbeat, options.Leases.Heartbeat);
        string modelPath = run.Model!.FileName, probePath = run.ProbeSet!.FileName;
        try
        {
            // This node's copies of the stored files (fetched from the store the first time).
            modelPath = Fetch(() => files.LocalPathAsync(run.Model, cts.Token), $"Model file not found in the store: '{run.Model.Name}'");
            probePath = Fetch(() => files.LocalPathAsync(run.ProbeSet, cts.Token), $"Probe set file not found in the store: '{run.ProbeSet.Name}'");
            var card = CardJson.Parse(run.Model.CardJson);
            var measureOptions = RunRequest.ToOptions(run) with { Device = device };
            var progress = new ProgressWriter(this, lease, runId);
            var result = runner.Measure(modelPath, card, probePath, measureOptions, RunRequest.LayersOf(run), progress, cts.Token);
            runs.Finish(runId, fence, r =>
            {
                ResultStore.Store(r, result);
                // The file fetched above, so a later change of the model's file shows (Run.ModelFileChanged).
                r.ModelContentHash = run.Model.ContentHash;
                r.Status = RunStatus.Done;
                r.ImagesDone = r.ImagesTotal = result.Images;
                r.EtaSeconds = 0;
            });
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            if (lease.Lost)
            {
                logger.LogWarning("Run {RunId}: this worker lost its lease (fence {Fence}); another holds it now, so nothing is written.", runId, fence);
                return;
            }
            if (cancellationToken.IsCancellationRequested && !runs.IsCancelRequested(runId))
            {
                // The server is shutting down: hand the run back to the queue; Hangfire re-queues this very job.
                runs.Finish(runId, fence, r => { r.Status = RunStatus.Queued; r.ImagesDone = 0; r.EtaSeconds = null; r.StartedUtc = null; }, finished: false);
                throw;
            }
            runs.Finish(runId, fence, r => r.Status = RunStatus.Cancelled);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Run {RunId} failed.", runId);
            // Stored files are shown by the names users know them by, never by where they live.
            var error = safeText.Clean(LibraryErrors.Describe(e), (modelPath, $"'{run.Model.Name}'"), (probePath, $"'{run.ProbeSet.Name}'"));
            if (!runs.Finish(runId, fence, r => { r.Status = RunStatus.Failed; r.Error = error; })) return;
            // The run is closed; failing the job too puts it in Hangfire's Failed list, where an admin looks.
            throw new MeasurementFailedException($"Run {runId} failed: {error}");
        }
        finally
        {
            heartbeat.Change(Timeout.Infinite, Timeout.Infinite);
            cancellations.Unregister(runId, cts);
            cts.Dispose();
        }
    }

    private static string Fetch(Func<Task<string>> fetch, string whenMissing)
    {
        try { return fetch().GetAwaiter().GetResult(); }
        catch (StoredObjectMissingException) { throw new EquivarianceLabException(whenMissing); }
    }

    /// <summary>
    /// Renews the run's lease (from the heartbeat timer and with every progress write) and stops the measurement when
    /// the run was cancelled elsewhere or is no longer this worker's.
    /// </summary>
    private sealed class LeaseKeeper(MeasurementJob job, int runId, int fence, CancellationTokenSource cts)
    {
        private volatile bool _lost;
        public bool Lost => _lost;

        public void Renew()
        {
            try { Apply(job.Runs.RenewLease(runId, fence)); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The database is briefly unreachable: the lease may lapse, and then the fence refuses this worker's writes.
                job.Logger.LogWarning(e, "Run {RunId}: renewing the lease failed.", runId);
            }
        }

        public void Written(int done, int total, double? eta) => Apply(job.Runs.WriteProgress(runId, fence, done, total, eta));

        private void Apply(LeaseState state)
        {
            if (state == LeaseState.Held) return;
            if (state == LeaseState.Lost) _lost = true;
            try { cts.Cancel(); } catch (ObjectDisposedException) { }
        }
    }

    /// <summary>Throttled: pushes to pages every 250 ms, writes to the database every second and checks for a cancel there.</summary>
    private sealed class ProgressWriter(MeasurementJob job, LeaseKeeper lease, int runId) : IProgress<MeasureProgress>
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
                // A cancel may come from another machine sharing the database; the write also renews the lease.
                lease.Written(p.ImagesDone, p.ImagesTotal, eta);
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
