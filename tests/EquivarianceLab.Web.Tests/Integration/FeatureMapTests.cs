using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.Cards;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Tests.Fakes;
using EquivarianceLab.Web.Workers;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// The feature-map viewer's API (<c>/api/runs/{id}/feature-maps</c>) on a real run measured by the real library: two
/// PNGs of the layer's grid computed by a real worker process once and then served from the store, every wrong parameter
/// refused before any worker starts, and the access rules of any other read.
/// </summary>
public sealed class FeatureMapTests
{
    /// <summary>The real runner (worker processes), counting the feature-map requests that reach it.</summary>
    private sealed class CountingRunner : DelegatingRunner
    {
        public int FeatureMapsComputed;

        public override FeatureMapPair FeatureMaps(string modelPath, ModelCard card, string probePath, MeasureOptions options, FeatureMapRequest request,
            CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref FeatureMapsComputed);
            return base.FeatureMaps(modelPath, card, probePath, options, request, cancellationToken);
        }
    }

    [Fact]
    public async Task A_real_run_s_maps_are_two_pngs_of_the_layer_grid_computed_once_by_a_worker_and_then_served_from_the_store()
    {
        var data = LabFactory.NewFolder("featuremaps");
        var zoo = LabFactory.ZooWithFashionMnist();
        var runner = new CountingRunner();
        try
        {
            LabFactory.AddBuiltinControl(zoo, "control-rotation-equivariant", "Rotation-equivariant control");
            await using var factory = new LabFactory(data, zoo, services: s => s.AddSingleton<IMeasurementRunner>(sp =>
            {
                runner.Inner = new WorkerRunner(sp.GetRequiredService<WorkerProcess>(), sp.GetRequiredService<LabOptions>());
                return runner;
            }));
            using var client = factory.CreateClient();
            var created = await client.PostAsJsonAsync("/api/runs", new { modelId = "control-rotation-equivariant", transform = "rotation", images = 4 });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
            var run = await LabFactory.WaitForRunAsync(client, id);
            Assert.True(run.GetProperty("status").GetString() == "done", run.ToString());
            var layer2 = run.GetProperty("result").GetProperty("layers").EnumerateArray().Single(l => l.GetProperty("name").GetString() == "layer2");
            var shape = layer2.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray(); // [C, h, w]
            Assert.Equal([16, 28, 28], shape);

            var query = $"/api/runs/{id}/feature-maps?image=3&layer=layer2&channel=5&transform=rot90";
            var first = await client.GetAsync(query);
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
            var json = await first.Content.ReadAsStringAsync();
            var maps = JsonDocument.Parse(json).RootElement;
            Assert.Equal((3, "layer2", 5, "rot90"), (maps.GetProperty("image").GetInt32(), maps.GetProperty("layer").GetString(),
                maps.GetProperty("channel").GetInt32(), maps.GetProperty("transform").GetString()));
            Assert.Equal((shape[1], shape[2]), (maps.GetProperty("height").GetInt32(), maps.GetProperty("width").GetInt32()));
            // The control's channels are rotated copies: f(gX)_c is exactly g·f(X)_c′ for another orientation of the same filter.
            var partner = maps.GetProperty("partner").GetInt32();
            Assert.Equal(5 / 4, partner / 4);
            Assert.NotEqual(5, partner);
            Assert.Equal(1.0, maps.GetProperty("similarity").GetDouble(), 4);
            Assert.True(maps.GetProperty("selfSimilarity").GetDouble() < 0.999);
            Assert.True(maps.GetProperty("scale").GetDouble() > 0);

            // Two PNGs of exactly the feature grid's size, also served alone.
            var moved = Png(maps.GetProperty("moved").GetString()!);
            var reference = Png(maps.GetProperty("reference").GetString()!);
            foreach (var png in new[] { moved, reference })
            {
                using var bitmap = SKBitmap.Decode(png);
                Assert.Equal((shape[2], shape[1]), (bitmap.Width, bitmap.Height));
            }
            // Exactly equivariant: the two images are the same picture.
            using (var a = SKBitmap.Decode(moved))
            using (var b = SKBitmap.Decode(reference))
                Assert.Equal(a.Pixels, b.Pixels);
            foreach (var (file, expected) in new[] { ("moved.png", moved), ("reference.png", reference) })
            {
                var alone = await client.GetAsync($"/api/runs/{id}/feature-maps/{file}?image=3&layer=layer2&channel=5&transform=rot90");
                Assert.Equal(HttpStatusCode.OK, alone.StatusCode);
                Assert.Equal("image/png", alone.Content.Headers.ContentType?.MediaType);
                Assert.Equal(expected, await alone.Content.ReadAsByteArrayAsync());
            }
            Assert.Equal(1, runner.FeatureMapsComputed);

            // Asked again, from this node's cache; with the cache gone, from the store: no second worker either way.
            Assert.Equal(json, await client.GetStringAsync(query));
            var kept = Directory.GetFiles(Path.Combine(data, "cache"), "feature-maps.json", SearchOption.AllDirectories);
            Assert.Single(kept);
            foreach (var file in kept) File.Delete(file);
            Assert.Equal(json, await client.GetStringAsync(query));
            Assert.Equal(1, runner.FeatureMapsComputed);

            // Identical requests arriving together compute once; another request is another computation.
            var other = $"/api/runs/{id}/feature-maps?image=0&layer=layer1&channel=0&transform=rot180&partner=2";
            var together = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => client.GetStringAsync(other)));
            Assert.Equal(2, runner.FeatureMapsComputed);
            Assert.All(together, t => Assert.Equal(together[0], t));
            Assert.Equal(2, JsonDocument.Parse(together[0]).RootElement.GetProperty("partner").GetInt32());

            // Wrong parameters: a validation problem naming the field, before any worker.
            foreach (var (q, field, detail) in new[]
            {
                ("image=4&layer=layer2&channel=0&transform=rot90", "image", $"image must be between 0 and 3: run {id} measured 4 images (got 4)."),
                ("image=x1&layer=layer2&channel=0&transform=rot90", "image", "image must be a whole number (got 'x1')."),
                ("layer=pool&transform=rot90", "layer", $"Layer 'pool' is a vector layer (16 per image): feature maps exist for spatial layers only. Those of run {id} are layer1, layer2, layer3."),
                ("layer=conv9&transform=rot90", "layer", $"Run {id} measured no layer 'conv9'; its spatial layers are layer1, layer2, layer3."),
                ("transform=rot90", "layer", $"layer is required: one of the spatial layers of run {id} (layer1, layer2, layer3)."),
                ("layer=layer2&channel=16&transform=rot90", "channel", "channel must be between 0 and 15: layer 'layer2' has 16 channels (got 16)."),
                ("layer=layer2&channel=0&transform=rot90&partner=-1", "partner", "partner must be between 0 and 15: layer 'layer2' has 16 channels (got -1)."),
                ("layer=layer2&channel=0&transform=shift1", "transform", $"Unknown transform 'shift1' for run {id}: use rot90, rot180, rot270."),
                ("layer=layer2&channel=0", "transform", "transform is required: one of rot90, rot180, rot270."),
            })
            {
                var bad = await client.GetAsync($"/api/runs/{id}/feature-maps?{q}");
                Assert.True(HttpStatusCode.BadRequest == bad.StatusCode, q);
                Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
                var problem = await bad.Content.ReadFromJsonAsync<JsonElement>();
                Assert.Equal(detail, problem.GetProperty("detail").GetString());
                Assert.Equal(detail, problem.GetProperty("errors").GetProperty(field)[0].GetString());
            }
            Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync($"/api/runs/{id}/feature-maps/moved.png?layer=layer2&channel=99&transform=rot90")).StatusCode);
            Assert.Equal(2, runner.FeatureMapsComputed);
            var missing = await client.GetAsync("/api/runs/999/feature-maps?layer=layer2&transform=rot90");
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Equal("No run 999.", (await missing.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());

            // In the OpenAPI document, with the response's fields.
            var doc = await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
            foreach (var path in new[] { "/api/runs/{id}/feature-maps", "/api/runs/{id}/feature-maps/moved.png", "/api/runs/{id}/feature-maps/reference.png" })
                Assert.True(doc.GetProperty("paths").TryGetProperty(path, out _), $"the OpenAPI document lacks {path}");
            var dto = doc.GetProperty("components").GetProperty("schemas").GetProperty("FeatureMapDto").GetProperty("properties");
            foreach (var field in new[] { "partner", "similarity", "selfSimilarity", "moved", "reference", "width", "height" })
                Assert.True(dto.TryGetProperty(field, out _), field);
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    [Fact]
    public async Task Only_finished_runs_have_maps_and_reads_that_need_an_account_need_one_here_too()
    {
        var slow = new FakeMeasurementRunner { BatchDelay = TimeSpan.FromSeconds(1) };
        var data = LabFactory.NewFolder("featuremaps-access");
        var closedData = LabFactory.NewFolder("featuremaps-closed");
        var zoo = LabFactory.ZooWithFashionMnist();
        LabFactory.AddZooModel(zoo, "control-a", "Control A", 80, FakeLab.FakeOnnx);
        try
        {
            await using (var factory = new LabFactory(data, zoo, slow))
            {
                using var client = factory.CreateClient();
                var created = await client.PostAsJsonAsync("/api/runs", new { modelId = "control-a", images = 100_000 });
                var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
                var early = await client.GetAsync($"/api/runs/{id}/feature-maps?layer=conv1&transform=rot90");
                Assert.Equal(HttpStatusCode.Conflict, early.StatusCode);
                Assert.Matches($"^Run {id} is (queued|running): feature maps are shown for finished runs only\\.$",
                    (await early.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
                await client.PostAsync($"/api/runs/{id}/cancel", null);
                Assert.Equal(0, slow.FeatureMapsComputed);
            }
            var settings = new Dictionary<string, string> { ["EquivarianceLab:Access:RequireAccounts"] = "true", ["EquivarianceLab:Access:AnonymousRead"] = "false" };
            await using (var closed = new LabFactory(closedData, zoo, new FakeMeasurementRunner(), settings: settings))
            {
                using var anonymous = closed.CreateClient(new() { AllowAutoRedirect = false });
                var refused = await anonymous.GetAsync("/api/runs/1/feature-maps?layer=conv1&transform=rot90");
                Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            }
        }
        finally
        {
            LabFactory.TryDelete(data, closedData, zoo);
        }
    }

    private static byte[] Png(string dataUrl)
    {
        const string prefix = "data:image/png;base64,";
        Assert.StartsWith(prefix, dataUrl);
        return Convert.FromBase64String(dataUrl[prefix.Length..]);
    }
}
