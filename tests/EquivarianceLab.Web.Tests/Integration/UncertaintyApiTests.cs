using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.Web.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>A finished run's standard errors and 95% intervals, through the API, the result.json download and the database.</summary>
public sealed class UncertaintyApiTests
{
    [Fact]
    public async Task A_finished_run_carries_stderr_and_intervals_on_layers_parts_and_transforms()
    {
        var data = LabFactory.NewFolder("uncertainty");
        var zoo = LabFactory.ZooWithFashionMnist();
        try
        {
            // The rotation-equivariant control: invariance clearly below 1 and different from image to image.
            LabFactory.AddBuiltinControl(zoo, "control-rotation-equivariant", "Rotation-equivariant control");
            await using var factory = new LabFactory(data, zoo);
            using var client = factory.CreateClient();
            var created = await client.PostAsJsonAsync("/api/runs", new { modelId = "control-rotation-equivariant", transform = "rotation", images = 16 });
            var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
            var run = await LabFactory.WaitForRunAsync(client, id);
            Assert.True(run.GetProperty("status").GetString() == "done", run.ToString());

            var download = JsonDocument.Parse(await client.GetStringAsync($"/api/runs/{id}.json")).RootElement;
            foreach (var result in new[] { run.GetProperty("result"), download })
            {
                var layers = result.GetProperty("layers").EnumerateArray().ToList();
                var parts = result.GetProperty("parts").EnumerateObject().Select(p => p.Value).ToList();
                Assert.Equal(["Early", "Middle", "Late", "Pool", "Final"], result.GetProperty("parts").EnumerateObject().Select(p => p.Name));
                foreach (var scored in layers.Concat(parts).Concat(layers.SelectMany(l => l.GetProperty("perTransform").EnumerateObject().Select(p => p.Value))))
                    foreach (var score in new[] { "invariance", "equivariance" })
                        AssertInterval(scored, score);
                // Invariance varies over the images in the spatial parts: a real spread, not zero.
                Assert.All(parts.Take(3), p => Assert.True(p.GetProperty("invarianceStderr").GetDouble() > 1e-3, p.ToString()));
            }

            // The stored rows hold the same numbers.
            await using var scope = factory.Services.CreateAsyncScope();
            await using var db = await scope.ServiceProvider.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
            var stored = db.Runs.Include(r => r.Layers).ThenInclude(l => l.PerTransform).Include(r => r.Parts).Single(r => r.Id == id);
            var early = download.GetProperty("parts").GetProperty("Early");
            var row = stored.Parts.Single(p => p.Part == "Early");
            Assert.Equal(early.GetProperty("invarianceStderr").GetDouble(), row.InvarianceStderr);
            Assert.Equal(early.GetProperty("invarianceInterval")[0].GetDouble(), row.InvarianceLow);
            Assert.Equal(early.GetProperty("equivarianceInterval")[1].GetDouble(), row.EquivarianceHigh);
            var layer0 = download.GetProperty("layers")[0];
            var layerRow = stored.Layers.Single(l => l.Index == 0);
            Assert.Equal(layer0.GetProperty("equivarianceStderr").GetDouble(), layerRow.EquivarianceStderr);
            Assert.Equal(layer0.GetProperty("perTransform").GetProperty("rot90").GetProperty("invarianceInterval")[1].GetDouble(),
                layerRow.PerTransform.Single(t => t.Key == "rot90").InvarianceHigh);
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    /// <summary>SE ≥ 0 and the interval [low, high] within [−1, 1], holding the score, as wide as t(0.975, N−1)·SE each side where unclamped.</summary>
    private static void AssertInterval(JsonElement scored, string score)
    {
        double value = scored.GetProperty(score).GetDouble(), stderr = scored.GetProperty(score + "Stderr").GetDouble();
        var interval = scored.GetProperty(score + "Interval").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.True(stderr >= 0, scored.ToString());
        Assert.True(-1 <= interval[0] && interval[0] <= value + 1e-6 && value - 1e-6 <= interval[1] && interval[1] <= 1, scored.ToString());
        const double t15 = 2.131449546; // Student's t, 0.975 quantile, 15 degrees of freedom (tables): the run has 16 images
        if (interval[0] > -1) Assert.Equal(value - t15 * stderr, interval[0], 8);
        if (interval[1] < 1) Assert.Equal(value + t15 * stderr, interval[1], 8);
    }
}
