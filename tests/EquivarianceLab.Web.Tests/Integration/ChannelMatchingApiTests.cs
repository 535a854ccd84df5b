using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Runs;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// A finished run's channel matching through the API (docs/measure.md, "Channel matching"), measured by a real worker
/// on the rotation-equivariant control, whose channels are rotated copies of each other: a quarter turn permutes them.
/// </summary>
public sealed class ChannelMatchingApiTests
{
    [Fact]
    public async Task The_summary_channels_heat_map_and_csv_agree_with_the_result_and_bad_requests_say_what_is_wrong()
    {
        var data = LabFactory.NewFolder("matching");
        var zoo = LabFactory.ZooWithFashionMnist();
        try
        {
            LabFactory.AddBuiltinControl(zoo, "control-rotation-equivariant", "Rotation-equivariant control");
            await using var factory = new LabFactory(data, zoo);
            using var client = factory.CreateClient();
            var created = await client.PostAsJsonAsync("/api/runs", new { modelId = "control-rotation-equivariant", transform = "rotation", images = 6 });
            var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
            var run = await LabFactory.WaitForRunAsync(client, id);
            Assert.True(run.GetProperty("status").GetString() == "done", run.ToString());
            var result = MeasurementResult.FromJson(await client.GetStringAsync($"/api/runs/{id}.json"));

            // The summary: every layer × transform, the control's rotated copies a permutation under every turn.
            var summary = await client.GetFromJsonAsync<List<MatchingSummaryDto>>($"/api/runs/{id}/matching");
            Assert.Equal(result.Layers.Count * 3, summary!.Count);
            foreach (var name in new[] { "layer1", "layer2", "layer3" })
                Assert.All(summary.Where(s => s.Layer == name), s =>
                {
                    Assert.Equal(1.0, s.DistinctShare);
                    Assert.Equal(0.0, s.OwnIndexShare);
                    Assert.Equal(6, s.Decisions);
                });

            // One layer's channels: as in result.json.
            var channels = await client.GetFromJsonAsync<JsonElement>($"/api/runs/{id}/matching/channels?layer=layer2&transform=rot90");
            var stored = result.Layers.Single(l => l.Name == "layer2").Matching!["rot90"];
            Assert.Equal(stored.Match.Select(m => (int?)m), channels.GetProperty("matching").GetProperty("match").EnumerateArray().Select(e => (int?)e.GetInt32()));

            // The heat map: C × C pixels, and in each row c the darkest cell is at the match.
            var png = await client.GetAsync($"/api/runs/{id}/matching.png?layer=layer2&transform=rot90");
            Assert.Equal("image/png", png.Content.Headers.ContentType?.MediaType);
            using (var bitmap = SKBitmap.Decode(await png.Content.ReadAsByteArrayAsync()))
            {
                Assert.Equal((stored.Channels, stored.Channels), (bitmap.Width, bitmap.Height));
                for (int c = 0; c < stored.Channels; c++)
                {
                    int darkest = Enumerable.Range(0, stored.Channels).MinBy(x => Brightness(bitmap.GetPixel(x, c)));
                    Assert.Equal(stored.Match[c], darkest);
                    Assert.Equal(ChannelMatchingViews.Shade(1.0), bitmap.GetPixel(darkest, c)); // every image chose it
                }
            }

            // The CSV: the library's columns, one row per layer, transform and channel.
            var csv = (await client.GetStringAsync($"/api/runs/{id}/matching.csv")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(MatchingCsv.Header, csv[0]);
            Assert.Equal(result.Layers.Sum(l => l.Matching!.Values.Sum(m => m.Channels)), csv.Length - 1);

            // Wrong requests: the field and the reason, as problem details.
            foreach (var (query, field, says) in new[]
            {
                ("layer=nope&transform=rot90", "layer", "no layer 'nope'"),
                ("transform=rot90", "layer", "layer is required"),
                ("layer=layer2&transform=shift3", "transform", "has no transform 'shift3'"),
            })
            {
                var bad = await client.GetAsync($"/api/runs/{id}/matching/channels?{query}");
                Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
                Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
                var problem = await bad.Content.ReadFromJsonAsync<JsonElement>();
                Assert.Contains(says, problem.GetProperty("errors").GetProperty(field)[0].GetString());
            }
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/runs/9999/matching")).StatusCode);

            // A result without matching (measured before it existed): a 404 that says so, not an empty list.
            int old;
            await using (var scope = factory.Services.CreateAsyncScope())
            await using (var db = await scope.ServiceProvider.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync())
            {
                var stripped = result with { Layers = [.. result.Layers.Select(l => l with { Matching = null })] };
                var copy = await db.Runs.AsNoTracking().SingleAsync(r => r.Id == id);
                copy.Id = 0;
                copy.ResultJson = stripped.ToJson();
                db.Runs.Add(copy);
                await db.SaveChangesAsync();
                old = copy.Id;
            }
            var missing = await client.GetAsync($"/api/runs/{old}/matching");
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Contains("did not keep its channel matching", (await missing.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    private static int Brightness(SKColor c) => c.Red + c.Green + c.Blue;
}
