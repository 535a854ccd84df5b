using System.Net;
using System.Text.Json;
using EquivarianceLab.E2E.Infrastructure;
using Xunit.Abstractions;

namespace EquivarianceLab.E2E;

/// <summary>
/// Faults (issue 5 item 3) on the real process: SIGKILL the server (the whole process tree) while a measurement runs,
/// start it again on the same data folder, and once the dead process's lease runs out the interrupted run is re-run to the end — or, once its restarts are
/// used up, marked failed with the reason and queued again by hand — while every finished run keeps its exact numbers.
/// </summary>
public sealed class CrashRecoveryTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly TestZoo _zoo = new();
    private readonly string _data = Repo.NewTempFolder("crash");

    /// <summary>
    /// A killed server's run is owned by its lease until that runs out; a short one keeps the test short (the default is a
    /// minute).
    /// </summary>
    private static readonly Dictionary<string, string> ShortLease = new()
    {
        ["EquivarianceLab:Leases:Duration"] = "00:00:05",
        ["EquivarianceLab:Leases:Heartbeat"] = "00:00:01",
    };

    /// <summary>About ten seconds of work for the 64-channel CNN here: long enough to be killed in the middle.</summary>
    private const int LongImages = 1500;

    public Task InitializeAsync()
    {
        _zoo.AddTinyCnn("tiny-a", "Tiny CNN A", 71.5, seed: 1);
        _zoo.AddTinyCnn("wide-d", "Wide CNN D", 77.7, seed: 4, channels: 64);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        Repo.TryDelete(_data);
        _zoo.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task A_run_killed_with_the_server_is_rerun_or_failed_with_a_reason_and_finished_runs_keep_their_numbers()
    {
        var timeout = TimeSpan.FromMinutes(3);
        int finished, interrupted, interruptedTwice;
        string finishedJson, finishedCsv;

        // 1. A finished run, and a long one killed (SIGKILL) while it measures.
        await using (var first = await LabServer.StartAsync("crash-1", _data, _zoo.Folder, ShortLease))
        {
            using var api = first.CreateClient();
            finished = await api.QueueAsync("tiny-a", "rotation", images: 32);
            Assert.Equal("done", (await api.WaitForRunAsync(finished, timeout)).GetProperty("status").GetString());
            finishedJson = Result(await api.RunAsync(finished));
            finishedCsv = await api.GetStringAsync($"api/runs/{finished}.csv");

            interrupted = await api.QueueAsync("wide-d", "translation", images: LongImages, maxShift: 4);
            var progress = await api.WaitForProgressAsync(interrupted, timeout);
            output.WriteLine($"killing the server with run {interrupted} at {progress.GetProperty("imagesDone")} / {LongImages} images");
            first.Kill();
            Assert.True(first.HasExited);
        }

        // 2. Restarted on the same data folder (one restart allowed by default): the run is queued again and measured to the end.
        await using (var second = await LabServer.StartAsync("crash-2", _data, _zoo.Folder, ShortLease))
        {
            using var api = second.CreateClient();
            var after = await api.RunAsync(interrupted);
            Assert.True(after.GetProperty("status").GetString() is "queued" or "running", $"after the restart: {after}");
            var rerun = await api.WaitForRunAsync(interrupted, timeout);
            Assert.Equal("done", rerun.GetProperty("status").GetString());
            Assert.Equal(LongImages, rerun.GetProperty("result").GetProperty("images").GetInt32());
            Assert.Equal(finishedJson, Result(await api.RunAsync(finished)));
            Assert.Equal(finishedCsv, await api.GetStringAsync($"api/runs/{finished}.csv"));

            // 3. Another long run killed in the middle…
            interruptedTwice = await api.QueueAsync("wide-d", "translation", images: LongImages, maxShift: 4);
            await api.WaitForProgressAsync(interruptedTwice, timeout);
            second.Kill();
        }

        // 4. …and restarted with no restarts allowed: marked failed with the reason, never left "running"; re-run by hand.
        await using (var third = await LabServer.StartAsync("crash-3", _data, _zoo.Folder,
                         new Dictionary<string, string>(ShortLease) { ["EquivarianceLab:MaxRestarts"] = "0" }))
        {
            using var api = third.CreateClient();
            // Closed once the dead worker's lease runs out (a few seconds here).
            var failed = await api.WaitForRunAsync(interruptedTwice, timeout);
            Assert.Equal("failed", failed.GetProperty("status").GetString());
            Assert.StartsWith("Interrupted: its worker stopped answering while it ran", failed.GetProperty("error").GetString());
            LabApi.AssertNoLeak(failed.ToString(), "the interrupted run");

            using var again = await api.PostAsync($"api/runs/{interruptedTwice}/rerun", null);
            Assert.Equal(HttpStatusCode.Created, again.StatusCode);
            var requeued = JsonDocument.Parse(await again.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetInt32();
            var done = await api.WaitForRunAsync(requeued, timeout);
            Assert.Equal("done", done.GetProperty("status").GetString());

            // Every finished run is intact, with the same numbers; the re-run measured the same thing the same way.
            Assert.Equal(finishedJson, Result(await api.RunAsync(finished)));
            Assert.Equal(finishedCsv, await api.GetStringAsync($"api/runs/{finished}.csv"));
            Assert.Equal(Scores(await api.RunAsync(interrupted)), Scores(done));
            var statuses = JsonDocument.Parse(await api.GetStringAsync("api/runs")).RootElement.EnumerateArray()
                .Select(r => r.GetProperty("status").GetString()).ToList();
            Assert.DoesNotContain("running", statuses);
        }
    }

    /// <summary>The stored result.json, exactly as served.</summary>
    private static string Result(JsonElement run)
    {
        var result = run.GetProperty("result");
        Assert.Equal(JsonValueKind.Object, result.ValueKind);
        return result.GetRawText();
    }

    /// <summary>Part scores to 6 decimals (two measurements of the same thing agree to float rounding).</summary>
    private static string Scores(JsonElement run) =>
        string.Join(",", run.GetProperty("result").GetProperty("parts").EnumerateObject().Select(p =>
            $"{p.Name}={p.Value.GetProperty("invariance").GetDouble():F6}/{p.Value.GetProperty("equivariance").GetDouble():F6}"));
}
