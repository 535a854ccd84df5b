using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.Tests.TestModels;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>These tests find and kill worker processes of this test process, so no other test may run beside them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WorkerProcessCollection
{
    public const string Name = "Worker processes";
}

/// <summary>
/// Untrusted work in its own OS process: real worker processes started by the real app, killed with SIGKILL from
/// outside, stopped by their time budget and by the OS memory cap. Each ends its run failed with a reason a user can act
/// on, and the server and the next run carry on.
/// </summary>
[Collection(WorkerProcessCollection.Name)]
public sealed class WorkerTests
{
    [Fact]
    public async Task A_worker_killed_with_sigkill_fails_its_run_with_a_reason_and_the_next_run_completes()
    {
        var (data, zoo) = TinyZoo();
        try
        {
            await using var factory = new LabFactory(data, zoo);
            using var client = factory.CreateClient();
            var first = await QueueAsync(client, images: 64);
            var worker = await WaitForWorkerAsync(TimeSpan.FromSeconds(60));
            Signal(worker, kill: true);

            var failed = await WaitForEndAsync(client, first);
            Assert.Equal("failed", failed.GetProperty("status").GetString());
            var error = failed.GetProperty("error").GetString()!;
            Assert.Contains("killed (signal 9", error);
            Leaks.AssertNone(error, "the error of a killed run");

            var second = await WaitForEndAsync(client, await QueueAsync(client, images: 16));
            Assert.True(second.GetProperty("status").GetString() == "done", second.GetProperty("error").ToString());
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    [Fact]
    public async Task Cancel_kills_a_running_worker_within_five_seconds()
    {
        var (data, zoo) = ZooWith("resnet20-fmnist");
        try
        {
            await using var factory = new LabFactory(data, zoo);
            using var client = factory.CreateClient();
            var id = await QueueAsync(client, model: "resnet20-fmnist", images: 10_000);
            var worker = await WaitForWorkerAsync(TimeSpan.FromSeconds(60));
            await WaitForProgressAsync(client, id);

            var asked = Stopwatch.StartNew();
            var cancel = await client.PostAsync($"/api/runs/{id}/cancel", null);
            Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
            while (IsRunning(worker) && asked.Elapsed < TimeSpan.FromSeconds(10)) await Task.Delay(50);
            Assert.False(IsRunning(worker), "the worker still runs 10 s after the cancel");
            Assert.True(asked.Elapsed < TimeSpan.FromSeconds(5), $"the worker took {asked.Elapsed.TotalSeconds:0.0} s to stop");
            var run = await WaitForEndAsync(client, id);
            Assert.Equal("cancelled", run.GetProperty("status").GetString());
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    [Fact]
    public async Task A_run_over_its_time_budget_is_stopped_and_fails_saying_so()
    {
        var (data, zoo) = ZooWith("resnet20-fmnist");
        try
        {
            await using var factory = new LabFactory(data, zoo, settings: new Dictionary<string, string>
            {
                ["EquivarianceLab:Worker:RunTimeLimit"] = "00:00:06",
            });
            using var client = factory.CreateClient();
            var clock = Stopwatch.StartNew();
            var run = await WaitForEndAsync(client, await QueueAsync(client, model: "resnet20-fmnist", images: 10_000));
            Assert.Equal("failed", run.GetProperty("status").GetString());
            Assert.Contains("ran longer than the 6-second limit", run.GetProperty("error").GetString());
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(40), $"the run ended only after {clock.Elapsed.TotalSeconds:0} s");
            Assert.Null(FindWorker());
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    [Fact]
    public async Task A_model_that_allocates_past_the_memory_cap_is_refused_and_the_server_stays_small()
    {
        var (data, zoo) = TinyZoo();
        try
        {
            await using var factory = new LabFactory(data, zoo, settings: new Dictionary<string, string>
            {
                ["EquivarianceLab:Worker:MemoryLimitMiB"] = "1024",
            });
            using var client = factory.CreateClient();
            await client.GetAsync("/api/models");
            var before = Process.GetCurrentProcess().WorkingSet64;

            // 300 bytes of ONNX whose constant folding asks for a 4 GiB tensor when the session is made.
            using var form = new MultipartFormDataContent { { new ByteArrayContent(MemoryHog()), "file", "hog.onnx" } };
            var response = await client.PostAsync("/api/models", form);
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
            Assert.Contains("exceeded the 1 GiB memory limit", problem.GetProperty("detail").GetString());

            Process.GetCurrentProcess().Refresh();
            Assert.True(Process.GetCurrentProcess().WorkingSet64 - before < 500L << 20, "the web process grew by more than 500 MB");
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/models")).StatusCode);
            Assert.Empty(DataFolderFiles.StoredUploads(data));
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    // ---- helpers ----

    private static (string Data, string Zoo) TinyZoo()
    {
        var zoo = LabFactory.ZooWithFashionMnist();
        LabFactory.AddZooModel(zoo, "control-tiny", "Tiny control CNN", 50, Onnx.TinyCnn());
        return (LabFactory.NewFolder("worker"), zoo);
    }

    /// <summary>A zoo with one of the repository's trained models (copied), slow enough to be caught mid-run.</summary>
    private static (string Data, string Zoo) ZooWith(string id)
    {
        var zoo = LabFactory.ZooWithFashionMnist();
        var source = Path.Combine(LabFactory.RepositoryRoot(), "models", id);
        var target = Directory.CreateDirectory(Path.Combine(zoo, id)).FullName;
        foreach (var file in Directory.EnumerateFiles(source)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
        return (LabFactory.NewFolder("worker"), zoo);
    }

    private static async Task<int> QueueAsync(HttpClient client, string model = "control-tiny", int images = 16)
    {
        var created = await client.PostAsJsonAsync("/api/runs", new { modelId = model, probeSetId = "fashion-mnist-test", transform = "rotation", images });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
    }

    private static async Task<JsonElement> WaitForEndAsync(HttpClient client, int id)
    {
        var until = DateTime.UtcNow.AddMinutes(3);
        JsonElement run;
        do
        {
            await Task.Delay(200);
            run = await client.GetFromJsonAsync<JsonElement>($"/api/runs/{id}");
        } while (run.GetProperty("status").GetString() is "queued" or "running" && DateTime.UtcNow < until);
        return run;
    }

    private static async Task WaitForProgressAsync(HttpClient client, int id)
    {
        var until = DateTime.UtcNow.AddMinutes(2);
        while (DateTime.UtcNow < until)
        {
            var run = await client.GetFromJsonAsync<JsonElement>($"/api/runs/{id}");
            if (run.GetProperty("imagesDone").GetInt32() > 0) return;
            Assert.True(run.GetProperty("status").GetString() is "queued" or "running", $"the run ended before it made progress: {run}");
            await Task.Delay(100);
        }
        Assert.Fail("the run made no progress in 2 minutes");
    }

    private static async Task<int> WaitForWorkerAsync(TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (FindWorker() is { } pid) return pid;
            await Task.Delay(20);
        }
        throw new TimeoutException("No worker process started.");
    }

    /// <summary>A child of this test process whose command line ends with the worker argument.</summary>
    private static int? FindWorker()
    {
        var me = Environment.ProcessId;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1]) != me || fields[0] == "Z") continue;
                var args = File.ReadAllText(Path.Combine(dir, "cmdline")).Split('\0', StringSplitOptions.RemoveEmptyEntries);
                if (args.Length > 0 && args[^1] == "worker") return pid;
            }
            catch (IOException) { /* the process ended meanwhile */ }
        }
        return null;
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (IOException) { return false; }
    }

    private static void Signal(int pid, bool kill)
    {
        using var kill9 = Process.Start("kill", [kill ? "-9" : "-15", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill9.WaitForExit();
    }

    /// <summary>y = x + mean(ConstantOfShape([2^30])): the constant is 4 GiB of zeros, made when the session is built.</summary>
    private static byte[] MemoryHog()
    {
        var b = new OnnxGraphBuilder();
        var x = b.Input("x", "N", 1, 28, 28);
        var shape = b.InitializerInt64("big_shape", [1L << 30], 1);
        var big = b.Node("ConstantOfShape", [shape], "big");
        var mean = b.Node("ReduceMean", [big], "mean", OnnxGraphBuilder.Int("keepdims", 0));
        var y = b.Add(x, mean, "y");
        b.Output(y, "N", 1, 28, 28);
        return b.ToBytes();
    }
}
