using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Tests.Fakes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>A restart finds runs a crash left "running" or "queued": they are re-run or failed with a reason, and finished runs stay.</summary>
public sealed class RecoveryTests
{

    [Fact]
    public async Task Runs_interrupted_by_a_crash_are_requeued_once_then_failed_and_finished_runs_survive()
    {
        var data = LabFactory.NewFolder("recovery");
        var zoo = LabFactory.ZooWithFashionMnist();
        LabFactory.AddZooModel(zoo, "control-a", "Control A", 80, FakeLab.FakeOnnx);
        int done, interrupted, interruptedTwice, queued;
        try
        {
            await using (var first = new LabFactory(data, zoo, new FakeMeasurementRunner()))
            {
                using var client = first.CreateClient();
                done = (await (await client.PostAsJsonAsync("/api/runs", new { modelId = "control-a", images = 32 })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
                await WaitForAsync(client, done, "done");
                // What a SIGKILL leaves behind: runs marked running by a worker whose lease has run out, and a queued run whose job is gone.
                await using var db = await first.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
                Run Left(RunStatus status, int restarts) => new()
                {
                    ModelId = "control-a", ProbeSetId = "fashion-mnist-test", Transform = "rotation", Similarity = "pearson", Images = 32,
                    Status = status, Restarts = restarts, Worker = "dead-host:4242:0badc0de", ImagesDone = 10, ImagesTotal = 32,
                    LeaseExpiresUtc = status == RunStatus.Running ? DateTime.UtcNow.AddSeconds(-1) : null, Fence = 1,
                    AttemptToken = "dead", CreatedUtc = DateTime.UtcNow, StartedUtc = DateTime.UtcNow,
                };
                var a = Left(RunStatus.Running, 0); var b = Left(RunStatus.Running, 1); var c = Left(RunStatus.Queued, 0);
                db.Runs.AddRange(a, b, c);
                await db.SaveChangesAsync();
                (interrupted, interruptedTwice, queued) = (a.Id, b.Id, c.Id);
            }

            await using var second = new LabFactory(data, zoo, new FakeMeasurementRunner());
            using var client2 = second.CreateClient();
            Assert.Equal("done", (await WaitForAsync(client2, interrupted, "done")).GetProperty("status").GetString());
            Assert.Equal("done", (await WaitForAsync(client2, queued, "done")).GetProperty("status").GetString());
            var failed = await WaitForAsync(client2, interruptedTwice, "failed");
            Assert.Contains("Interrupted: its worker stopped answering", failed.GetProperty("error").GetString());
            var kept = await client2.GetFromJsonAsync<JsonElement>($"/api/runs/{done}");
            Assert.Equal("done", kept.GetProperty("status").GetString());
            Assert.Equal(8, kept.GetProperty("result").GetProperty("layers").GetArrayLength());
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    private static async Task<JsonElement> WaitForAsync(HttpClient client, int id, string status)
    {
        var until = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var run = await client.GetFromJsonAsync<JsonElement>($"/api/runs/{id}");
            var s = run.GetProperty("status").GetString();
            if (s == status || s is "done" or "failed" or "cancelled") return run;
            if (DateTime.UtcNow > until) throw new TimeoutException($"Run {id} is {s}, expected {status}.");
            await Task.Delay(200);
        }
    }
}
