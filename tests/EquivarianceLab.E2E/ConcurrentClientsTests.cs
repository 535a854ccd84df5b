using System.Text.Json;
using EquivarianceLab.E2E.Infrastructure;

namespace EquivarianceLab.E2E;

/// <summary>Two scripts queueing runs at the same moment against the real process (issue 5 item 3): each gets its own results.</summary>
public sealed class ConcurrentClientsTests() : ServerTest("concurrent")
{
    protected override void AddModels(TestZoo zoo)
    {
        zoo.AddTinyCnn("tiny-a", "Tiny CNN A", 71.5, seed: 1);
        zoo.AddTinyCnn("tiny-b", "Tiny CNN B", 64.0, seed: 2);
    }

    [Fact]
    public async Task Two_clients_queueing_at_once_both_get_their_results()
    {
        using var alice = Server.CreateClient();
        using var bob = Server.CreateClient();
        var go = new TaskCompletionSource();
        // Each client queues four runs as fast as it can, both released at once; the last two of each are the same settings.
        async Task<int[]> Queue(HttpClient client, string model, string transform)
        {
            await go.Task;
            return await Task.WhenAll(new[] { 8, 12, 16, 16 }.Select(n => client.QueueAsync(model, transform, images: n, maxShift: 3)));
        }
        var aliceQueued = Queue(alice, "tiny-a", "rotation");
        var bobQueued = Queue(bob, "tiny-b", "translation");
        go.SetResult();
        var aliceIds = await aliceQueued;
        var bobIds = await bobQueued;
        Assert.Equal(8, aliceIds.Concat(bobIds).Distinct().Count());

        var timeout = TimeSpan.FromMinutes(2);
        foreach (var (client, ids, transform, other) in new[] { (alice, aliceIds, "rotation", bob), (bob, bobIds, "translation", alice) })
        {
            var runs = new List<JsonElement>();
            foreach (var (id, images) in ids.Zip(new[] { 8, 12, 16, 16 }))
            {
                var run = await client.WaitForRunAsync(id, timeout);
                Assert.True(run.GetProperty("status").GetString() == "done", $"run {id}: {run}");
                var result = run.GetProperty("result");
                Assert.Equal(transform, result.GetProperty("transform").GetString());
                Assert.Equal(images, result.GetProperty("images").GetInt32());
                // The other client sees the same stored result.
                Assert.Equal(result.GetRawText(), (await other.RunAsync(id)).GetProperty("result").GetRawText());
                runs.Add(run);
            }
            Assert.Equal(Parts(runs[2]), Parts(runs[3]));
        }
        // Different models, different numbers: nothing was crossed between the clients' runs.
        Assert.NotEqual(Parts(await alice.RunAsync(aliceIds[2])), Parts(await bob.RunAsync(bobIds[2])));
    }

    private static string Parts(JsonElement run) => run.GetProperty("result").GetProperty("parts").GetRawText();
}
