using EquivarianceLab.Web.Tests.Fakes;
using EquivarianceLab.Web.Workers;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.Cards;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Runs;
using Microsoft.Extensions.DependencyInjection;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// A job that throws, with the real library: its model file is deleted while the run waits in the queue. The run
/// ends failed with the library's message (the model named as users know it, no path), and the one worker goes on
/// serving the queue. (Kill-and-restart of the server process is in the e2e suite.)
/// </summary>
public sealed class FaultTests
{
    [Fact]
    public async Task A_job_whose_model_file_vanished_fails_with_its_message_and_the_worker_goes_on()
    {
        var data = LabFactory.NewFolder("fault");
        var zoo = LabFactory.ZooWithFashionMnist();
        LabFactory.AddZooModel(zoo, "control-tiny", "Tiny control CNN", 50, Onnx.TinyCnn());
        var gate = new GatedRunner();
        try
        {
            await using var factory = new LabFactory(data, zoo, services: s => s.AddSingleton<IMeasurementRunner>(sp =>
            {
                gate.Inner = new WorkerRunner(sp.GetRequiredService<WorkerProcess>(), sp.GetRequiredService<LabOptions>());
                return gate;
            }));
            using var client = factory.CreateClient();

            var doomedFile = Onnx.TinyCnn(seed: 9);
            using var form = new MultipartFormDataContent
            {
                { new StringContent("Doomed CNN"), "name" },
                { new ByteArrayContent(doomedFile), "file", "doomed.onnx" },
            };
            var upload = await client.PostAsync("/api/models", form);
            Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
            var doomed = (await upload.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;

            // The worker is busy with a first run (held at the gate) while the second waits in the queue.
            var first = await QueueAsync(client, "control-tiny");
            var second = await QueueAsync(client, doomed);
            Assert.True(gate.Entered.Wait(TimeSpan.FromSeconds(60)), "the first run never started");
            Assert.Equal("queued", (await RunAsync(client, second)).GetProperty("status").GetString());
            // Lost from the store (and this node's copy): the job cannot fetch it.
            DataFolderFiles.Lose(data, DataFolderFiles.Sha256(doomedFile));
            gate.Open.Set();

            Assert.Equal("done", (await WaitAsync(client, first)).GetProperty("status").GetString());
            var failed = await WaitAsync(client, second);
            Assert.Equal("failed", failed.GetProperty("status").GetString());
            Assert.Equal("Model file not found in the store: 'Doomed CNN'", failed.GetProperty("error").GetString());
            Leaks.AssertNone(failed.ToString(), "the failed run");
            // Hangfire agrees: the job is Failed (not Succeeded) and named after what it measured.
            // (The run is closed first; Hangfire records the job's state a moment later.)
            var monitor = factory.Services.GetRequiredService<Hangfire.JobStorage>().GetMonitoringApi();
            for (var until = DateTime.UtcNow.AddSeconds(30); monitor.FailedCount() == 0 && DateTime.UtcNow < until;) await Task.Delay(100);
            var failedJob = Assert.Single(monitor.FailedJobs(0, 10));
            Assert.Equal($"Doomed CNN · rotation (run {second})", failedJob.Value.Job.Args[2]);
            Assert.Contains("Model file not found", failedJob.Value.ExceptionMessage);

            // The same worker serves the next run.
            var third = await QueueAsync(client, "control-tiny");
            Assert.Equal("done", (await WaitAsync(client, third)).GetProperty("status").GetString());
            // A failed run can be queued again (here it fails again, for the same reason).
            var again = await client.PostAsync($"/api/runs/{second}/rerun", null);
            Assert.Equal(HttpStatusCode.Created, again.StatusCode);
            var rerun = (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
            Assert.Equal("Model file not found in the store: 'Doomed CNN'", (await WaitAsync(client, rerun)).GetProperty("error").GetString());

            // The same file uploaded again is the same model, and brings its lost file back: the next run measures it.
            using var reupload = new MultipartFormDataContent { { new ByteArrayContent(doomedFile), "file", "doomed-again.onnx" } };
            var restored = await client.PostAsync("/api/models", reupload);
            Assert.Equal(HttpStatusCode.Created, restored.StatusCode);
            Assert.Equal(doomed, (await restored.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString());
            Assert.True(File.Exists(DataFolderFiles.ObjectPath(data, DataFolderFiles.Sha256(doomedFile))));
            Assert.Equal("done", (await WaitAsync(client, await QueueAsync(client, doomed))).GetProperty("status").GetString());
        }
        finally
        {
            gate.Open.Set();
            LabFactory.TryDelete(data, zoo);
        }
    }

    private static async Task<int> QueueAsync(HttpClient client, string modelId)
    {
        var r = await client.PostAsJsonAsync("/api/runs", new { modelId, images = 8 });
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        return (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
    }

    private static Task<JsonElement> RunAsync(HttpClient client, int id) => client.GetFromJsonAsync<JsonElement>($"/api/runs/{id}");

    private static async Task<JsonElement> WaitAsync(HttpClient client, int id)
    {
        var until = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            var run = await RunAsync(client, id);
            if (run.GetProperty("status").GetString() is "done" or "failed" or "cancelled") return run;
            if (DateTime.UtcNow > until) throw new TimeoutException($"Run {id}: {run}");
            await Task.Delay(100);
        }
    }

    /// <summary>The real library, with the first measurement held until the test opens the gate.</summary>
    private sealed class GatedRunner : DelegatingRunner
    {
        private int _calls;
        public ManualResetEventSlim Entered { get; } = new();
        public ManualResetEventSlim Open { get; } = new();

        public override MeasurementResult Measure(string modelPath, ModelCard card, string probePath, MeasureOptions options, LayerChoice? layers,
            IProgress<MeasureProgress> progress, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _calls) == 1)
            {
                Entered.Set();
                Open.Wait(cancellationToken);
            }
            return Inner.Measure(modelPath, card, probePath, options, layers, progress, cancellationToken);
        }
    }
}
