using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EquivarianceLab.E2E.Infrastructure;
using Xunit.Abstractions;

namespace EquivarianceLab.E2E;

/// <summary>
/// Issue 13: a lab of one UI node and two worker nodes, separate processes with separate data folders, sharing nothing
/// but a real PostgreSQL server and a real S3 server (the workers do not even have the zoo: they fetch every file from
/// the store). A model and a probe set (large enough to go up in parts) are uploaded on the UI node, eleven runs
/// queued there, and the worker measuring the long one is killed with SIGKILL. Every run ends done exactly once — the
/// killed one taken back when its lease ran out and finished by the other worker — with results equal to the same runs
/// on a single SQLite node; the UI node showed the workers' progress; a cancel on the UI node stops a run on a worker;
/// a GPU run waits for a GPU worker.
/// </summary>
public sealed class ClusterTests(PostgresServer postgres, S3Server s3, ITestOutputHelper output)
    : IClassFixture<PostgresServer>, IClassFixture<S3Server>, IDisposable
{
    private readonly TestZoo _zoo = new();
    private readonly List<string> _folders = [];

    /// <summary>About ten seconds of work for the 64-channel CNN: long enough to be killed in the middle.</summary>
    private const int LongImages = 1500;
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(8);

    public void Dispose()
    {
        foreach (var f in _folders) Repo.TryDelete(f);
        _zoo.Dispose();
    }

    [Fact]
    public async Task Ten_runs_on_two_workers_one_killed_mid_run_all_end_done_once_with_the_results_of_one_sqlite_node()
    {
        _zoo.AddTinyCnn("tiny-a", "Tiny CNN A", 71.5, seed: 1);
        _zoo.AddTinyCnn("wide-d", "Wide CNN D", 77.7, seed: 4, channels: 64);
        var uploadedModel = TestZoo.TinyCnn(seed: 7, channels: 8);
        var uploadedProbes = Npy(2000, seed: 3); // 6.3 MB: more than one 5 MiB part

        var settings = new Dictionary<string, string>
        {
            ["EquivarianceLab:Database"] = "PostgreSql",
            ["ConnectionStrings:App"] = postgres.ConnectionString(PostgresServer.NewDatabaseName("cluster")),
            ["EquivarianceLab:Storage:Kind"] = "S3",
            ["EquivarianceLab:Storage:S3:ServiceUrl"] = s3.ServiceUrl,
            ["EquivarianceLab:Storage:S3:Bucket"] = s3.NewBucketName("cluster"),
            ["EquivarianceLab:Storage:S3:AccessKey"] = s3.AccessKey,
            ["EquivarianceLab:Storage:S3:SecretKey"] = s3.SecretKey,
            ["EquivarianceLab:Storage:S3:PartSizeMiB"] = "5",
            ["EquivarianceLab:Leases:Duration"] = Lease.ToString("c", CultureInfo.InvariantCulture),
            ["EquivarianceLab:Leases:Heartbeat"] = "00:00:01",
        };
        settings["ConnectionStrings:Hangfire"] = settings["ConnectionStrings:App"];
        var empty = Folder("no-zoo");

        await using var ui = await LabServer.StartAsync("cluster-ui", Folder("ui"), _zoo.Folder, With(settings, "Ui"));
        await using var workerA = await LabServer.StartAsync("cluster-worker-a", Folder("worker-a"), empty, With(settings, "Worker"));
        await using var workerB = await LabServer.StartAsync("cluster-worker-b", Folder("worker-b"), empty, With(settings, "Worker"));
        using var api = ui.CreateClient();
        foreach (var worker in new[] { workerA, workerB })
        {
            using var client = worker.CreateClient();
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("health/ready")).StatusCode);
            // A worker node serves no pages and no API.
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("api/models")).StatusCode);
        }

        var model = await api.UploadAsync("api/models", "uploaded.onnx", uploadedModel, "Uploaded CNN");
        var probes = await api.UploadAsync("api/probesets", "probes.npy", uploadedProbes, "Uploaded probes");
        // The uploaded probe set's thumbnails come from the store.
        using (var thumbnail = await api.GetAsync($"thumbnails/{probes}/0.png"))
            Assert.Equal(("image/png", HttpStatusCode.OK), (thumbnail.Content.Headers.ContentType?.MediaType, thumbnail.StatusCode));
        var plan = Plan(model, probes);
        var runs = new List<int>();
        foreach (var r in plan) runs.Add(await api.QueueAsync(r.Model, r.Transform, r.Images, r.MaxShift, r.Probe));
        var longRun = runs[0];

        // The UI node sees the worker's progress (through the shared database), then the worker holding it dies.
        var progress = await api.WaitForProgressAsync(longRun, TimeSpan.FromMinutes(2));
        var holder = progress.GetProperty("worker").GetString()!;
        var victim = new[] { workerA, workerB }.Single(w => WorkerPid(holder) == w.ProcessId);
        var survivor = victim == workerA ? workerB : workerA;
        output.WriteLine($"killing {victim.Name} ({holder}) at {progress.GetProperty("imagesDone")} / {LongImages} images");
        var seen = new HashSet<int> { progress.GetProperty("imagesDone").GetInt32() };
        for (var until = DateTime.UtcNow.AddSeconds(30); seen.Count < 2 && DateTime.UtcNow < until;)
        {
            await Task.Delay(100);
            seen.Add((await api.RunAsync(longRun)).GetProperty("imagesDone").GetInt32());
        }
        Assert.True(seen.Count >= 2, "the UI node never saw the run's progress move");
        victim.Kill();
        var killedAt = DateTime.UtcNow;

        var finished = new List<JsonElement>();
        foreach (var id in runs) finished.Add(await api.WaitForRunAsync(id, TimeSpan.FromMinutes(4)));
        foreach (var run in finished) Assert.True(run.GetProperty("status").GetString() == "done", $"run {run.GetProperty("id")}: {run}");
        var taken = finished[0];
        output.WriteLine($"run {longRun} done after the kill in {(taken.GetProperty("finishedUtc").GetDateTime() - killedAt).TotalSeconds:0.0} s");
        // Taken back once, after the lease, and measured to the end by the other worker, on a CPU.
        Assert.Equal(1, taken.GetProperty("restarts").GetInt32());
        Assert.Equal(survivor.ProcessId, WorkerPid(taken.GetProperty("worker").GetString()!));
        Assert.True(taken.GetProperty("startedUtc").GetDateTime() >= killedAt, "the long run's last start is from before the kill");
        Assert.Equal(LongImages, taken.GetProperty("result").GetProperty("images").GetInt32());
        // Every other run ran once, on one of the two workers, and none on the dead one after its death.
        foreach (var run in finished.Skip(1))
        {
            Assert.Equal(0, run.GetProperty("restarts").GetInt32());
            Assert.Equal("cpu", run.GetProperty("device").GetString());
            var pid = WorkerPid(run.GetProperty("worker").GetString()!);
            Assert.Contains(pid, new[] { workerA.ProcessId, workerB.ProcessId });
            if (pid == victim.ProcessId) Assert.True(run.GetProperty("finishedUtc").GetDateTime() <= killedAt);
        }

        // Cancel on the UI node stops a run on the surviving worker.
        var cancelled = await api.QueueAsync("wide-d", "translation", LongImages, 4);
        await api.WaitForProgressAsync(cancelled, TimeSpan.FromMinutes(1));
        var asked = DateTime.UtcNow;
        Assert.Equal(HttpStatusCode.Accepted, (await api.PostAsync($"api/runs/{cancelled}/cancel", null)).StatusCode);
        Assert.Equal("cancelled", (await api.WaitForRunAsync(cancelled, TimeSpan.FromSeconds(5))).GetProperty("status").GetString());
        output.WriteLine($"cancelled in {(DateTime.UtcNow - asked).TotalSeconds:0.0} s");

        // A GPU run waits for a GPU worker (there is none here), and is cancelled while it waits.
        using var gpu = await api.PostAsJsonAsync("api/runs", new { modelId = "tiny-a", device = "gpu", images = 8 });
        Assert.Equal(HttpStatusCode.Created, gpu.StatusCode);
        var gpuRun = (await gpu.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
        await Task.Delay(TimeSpan.FromSeconds(4));
        var waiting = await api.RunAsync(gpuRun);
        Assert.Equal(("queued", "gpu"), (waiting.GetProperty("status").GetString(), waiting.GetProperty("queue").GetString()));
        Assert.Equal(HttpStatusCode.Accepted, (await api.PostAsync($"api/runs/{gpuRun}/cancel", null)).StatusCode);

        // The same runs on one SQLite node with the default folder store: the same numbers.
        await using var single = await LabServer.StartAsync("cluster-sqlite", Folder("sqlite"), _zoo.Folder);
        using var alone = single.CreateClient();
        Assert.Equal(model, await alone.UploadAsync("api/models", "uploaded.onnx", uploadedModel, "Uploaded CNN"));
        Assert.Equal(probes, await alone.UploadAsync("api/probesets", "probes.npy", uploadedProbes, "Uploaded probes"));
        for (var i = 0; i < plan.Count; i++)
        {
            var r = plan[i];
            var reference = await alone.WaitForRunAsync(await alone.QueueAsync(r.Model, r.Transform, r.Images, r.MaxShift, r.Probe), TimeSpan.FromMinutes(2));
            Assert.Equal("done", reference.GetProperty("status").GetString());
            Assert.Equal(Scores(reference), Scores(finished[i]));
        }
    }

    private sealed record Planned(string Model, string Transform, int Images, int MaxShift, string Probe);

    /// <summary>The long run first (it starts at once), then runs of the zoo's and the uploaded model on both probe sets.</summary>
    private static List<Planned> Plan(string model, string probes) =>
    [
        new("wide-d", "translation", LongImages, 4, "fashion-mnist-test"),
        new("tiny-a", "rotation", 64, 4, "fashion-mnist-test"),
        new("tiny-a", "translation", 64, 4, "fashion-mnist-test"),
        new("tiny-a", "flip", 64, 4, probes),
        new(model, "rotation", 64, 4, "fashion-mnist-test"),
        new(model, "translation", 64, 4, probes),
        new(model, "flip", 64, 4, "fashion-mnist-test"),
        new(model, "rotation", 128, 4, probes),
        new("wide-d", "rotation", 64, 4, probes),
        new("wide-d", "flip", 64, 4, "fashion-mnist-test"),
    ];

    /// <summary>Every layer's and part's scores as stored (the numbers, not the run's own fields).</summary>
    private static string Scores(JsonElement run)
    {
        var result = run.GetProperty("result");
        return result.GetProperty("layers").GetRawText() + result.GetProperty("parts").GetRawText();
    }

    /// <summary>A worker id is machine:pid:random.</summary>
    private static int WorkerPid(string worker) => int.Parse(worker.Split(':')[1], CultureInfo.InvariantCulture);

    private static Dictionary<string, string> With(Dictionary<string, string> settings, string role) =>
        new(settings) { ["EquivarianceLab:Role"] = role };

    /// <summary>A float32 [n, 1, 28, 28] .npy of smooth random images in [0, 1].</summary>
    private static byte[] Npy(int n, int seed)
    {
        var header = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, 1, 28, 28), }}";
        var total = 10 + header.Length + 1;
        header += new string(' ', (64 - total % 64) % 64) + "\n";
        using var ms = new MemoryStream();
        ms.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        ms.Write(BitConverter.GetBytes((ushort)header.Length));
        ms.Write(Encoding.ASCII.GetBytes(header));
        var random = new Random(seed);
        var pixel = new byte[4];
        for (var i = 0; i < n; i++)
        {
            double a = random.NextDouble() * 6, b = random.NextDouble() * 6, phase = random.NextDouble() * Math.PI;
            for (var y = 0; y < 28; y++)
            for (var x = 0; x < 28; x++)
            {
                var v = (float)(0.5 + 0.5 * Math.Sin(a * x / 28.0 + b * y / 28.0 + phase) * Math.Exp(-((x - 14) * (x - 14) + (y - 10) * (y - 10)) / 200.0));
                BitConverter.TryWriteBytes(pixel, v);
                ms.Write(pixel);
            }
        }
        return ms.ToArray();
    }

    private string Folder(string name)
    {
        var f = Repo.NewTempFolder(name);
        _folders.Add(f);
        return f;
    }
}
