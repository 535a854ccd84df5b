using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// End to end with the real library: a tiny control CNN written as ONNX in the test, registered through the zoo,
/// measured by a real Hangfire job on the Fashion-MNIST probe set, read back through the API.
/// </summary>
public sealed class RealMeasurementTests
{
    [Fact]
    public async Task Measures_a_zoo_control_model_queued_through_the_api()
    {
        var data = LabFactory.NewFolder("real");
        var zoo = LabFactory.ZooWithFashionMnist();
        try
        {
            var onnx = TinyCnn();
            LabFactory.AddZooModel(zoo, "control-tiny", "Tiny control CNN", 50, onnx);
            await using var factory = new LabFactory(data, zoo);
            using var client = factory.CreateClient();

            var created = await client.PostAsJsonAsync("/api/runs", new { modelId = "control-tiny", probeSetId = "fashion-mnist-test", transform = "rotation", similarity = "pearson", images = 16 });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
            JsonElement run;
            var until = DateTime.UtcNow.AddMinutes(3);
            do
            {
                await Task.Delay(300);
                run = await client.GetFromJsonAsync<JsonElement>($"/api/runs/{id}");
            } while (run.GetProperty("status").GetString() is "queued" or "running" && DateTime.UtcNow < until);

            Assert.True(run.GetProperty("status").GetString() == "done", run.GetProperty("error").ToString());
            var result = run.GetProperty("result");
            Assert.Equal(16, result.GetProperty("images").GetInt32());
            Assert.True(result.GetProperty("layers").GetArrayLength() >= 3);
            Assert.True(result.GetProperty("parts").TryGetProperty("Early", out _));
            Assert.Equal(["rot90", "rot180", "rot270"], result.GetProperty("layers")[0].GetProperty("perTransform").EnumerateObject().Select(p => p.Name));
            var csv = await client.GetStringAsync($"/api/runs/{id}.csv");
            Assert.Contains(",rot180,", csv);

            // The same file uploaded is opened by the library and kept; a truncated copy is refused.
            using var good = new MultipartFormDataContent { { new ByteArrayContent(onnx), "file", "tiny.onnx" } };
            var ok = await client.PostAsync("/api/models", good);
            Assert.Equal(HttpStatusCode.Created, ok.StatusCode);
            Assert.Equal("1×28×28", (await ok.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("inputShape").GetString());
            using var truncated = new MultipartFormDataContent { { new ByteArrayContent(onnx[..(onnx.Length / 2)]), "file", "cut.onnx" } };
            var refused = await client.PostAsync("/api/models", truncated);
            Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
            Assert.Contains("Not a usable model", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    [Fact]
    public async Task Registers_and_measures_a_built_in_control_from_the_zoo()
    {
        var data = LabFactory.NewFolder("builtin");
        var zoo = LabFactory.ZooWithFashionMnist();
        try
        {
            LabFactory.AddBuiltinControl(zoo, "control-rotation-invariant", "Rotation-invariant control");
            await using var factory = new LabFactory(data, zoo);
            using var client = factory.CreateClient();
            var model = Assert.Single((await client.GetFromJsonAsync<JsonElement>("/api/models")).EnumerateArray());
            Assert.Equal("control-rotation-invariant", model.GetProperty("id").GetString());
            Assert.Equal("builtin", model.GetProperty("format").GetString());
            // Its layers are its hook points, all measured by default: three spatial maps at the card's 28×28, pool, logits.
            var layers = (await client.GetFromJsonAsync<JsonElement>("/api/models/control-rotation-invariant/layers")).EnumerateArray().ToList();
            Assert.Equal(EquivarianceLab.Controls.RotationControl.Hooks, layers.Select(l => l.GetProperty("name").GetString()));
            Assert.Equal(["Early", "Middle", "Late", "Pool", "Final"], layers.Select(l => l.GetProperty("part").GetString()));
            Assert.All(layers, l => Assert.True(l.GetProperty("default").GetBoolean()));
            Assert.All(layers, l => Assert.Equal(JsonValueKind.Null, l.GetProperty("op").ValueKind));
            Assert.All(layers.Take(3), l => Assert.Equal([28L, 28], l.GetProperty("shape").EnumerateArray().Skip(1).Select(d => d.GetInt64())));

            var created = await client.PostAsJsonAsync("/api/runs", new { modelId = "control-rotation-invariant", transform = "rotation", images = 8 });
            var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
            JsonElement run;
            var until = DateTime.UtcNow.AddMinutes(2);
            do
            {
                await Task.Delay(200);
                run = await client.GetFromJsonAsync<JsonElement>($"/api/runs/{id}");
            } while (run.GetProperty("status").GetString() is "queued" or "running" && DateTime.UtcNow < until);
            Assert.True(run.GetProperty("status").GetString() == "done", run.ToString());
            // The paper's invariant control: invariance 1 in every part.
            foreach (var part in run.GetProperty("result").GetProperty("parts").EnumerateObject())
                Assert.Equal(1.0, part.Value.GetProperty("invariance").GetDouble(), 4);
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    /// <summary>
    /// Issue 9, as a researcher checking numbers would: the shipped 7-layer CNNs (20 channels, where libtorch's oneDNN
    /// convolutions gave NaN or other values in some runs) queued three times each in one server give the same bits
    /// every time, and the numbers the library gives in this process on the same inputs.
    /// </summary>
    [Fact]
    public async Task The_same_run_queued_three_times_gives_the_same_numbers_every_time()
    {
        var data = LabFactory.NewFolder("repeat");
        var zoo = LabFactory.ZooWithFashionMnist();
        try
        {
            string[] ids = ["cnn7-fmnist6", "cnn7-fmnist6-rotinv", "cnn7-fmnist6-roteq"];
            foreach (var id in ids)
            {
                var dir = Directory.CreateDirectory(Path.Combine(zoo, id)).FullName;
                foreach (var f in Directory.GetFiles(Path.Combine(LabFactory.RepositoryRoot(), "models", id)))
                    File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            }
            await using var factory = new LabFactory(data, zoo);
            using var client = factory.CreateClient();

            foreach (var id in ids)
            {
                var results = new List<EquivarianceLab.Measure.MeasurementResult>();
                for (var i = 0; i < 3; i++)
                {
                    var created = await client.PostAsJsonAsync("/api/runs", new { modelId = id, probeSetId = "fashion-mnist-test", transform = "rotation", similarity = "pearson", images = 64, maxShift = 4 });
                    Assert.Equal(HttpStatusCode.Created, created.StatusCode);
                    var run = await LabFactory.WaitForRunAsync(client, (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32());
                    Assert.True(run.GetProperty("status").GetString() == "done", run.ToString());
                    results.Add(EquivarianceLab.Measure.MeasurementResult.FromJson(run.GetProperty("result").GetRawText()));
                }
                var probe = Path.Combine(zoo, "data", "fashion-mnist", "t10k-images-idx3-ubyte.gz");
                var (model, probeSet) = EquivarianceLab.FeatureModels.MeasurementInputs.Open(Path.Combine(zoo, id), probe);
                EquivarianceLab.Measure.MeasurementResult here;
                using (model)
                using (probeSet)
                    here = EquivarianceLab.Measure.EquivarianceMeasure.Run(model, probeSet, new EquivarianceLab.Measure.MeasureOptions { Images = 64, MaxShift = 4 });

                foreach (var result in results.Append(here))
                {
                    var difference = EquivarianceLab.Tests.Determinism.ScoreComparison.LargestDifference(results[0], result);
                    Assert.True(difference.Value == 0, $"{id}: {difference}");
                }
                Assert.All(results[0].Layers, l => Assert.NotNull(l.Equivariance));
            }
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    /// <summary>
    /// Issue 14: after the README's one command the ImageNet ResNet-18 is in the dashboard with its card's accuracy and
    /// test set, the shipped natural photos are a probe set, and the two fit: a run through the real worker measures the
    /// model's default layers on the photos (resized and cropped to 224×224, BGR, mean image subtracted).
    /// </summary>
    [Fact]
    public async Task The_imagenet_model_and_the_natural_photos_are_registered_at_start_and_fit_each_other()
    {
        var data = LabFactory.NewFolder("imagenet");
        var zoo = LabFactory.ZooWithFashionMnist();
        try
        {
            foreach (var folder in new[] { "imagenet-resnet18", Path.Combine("data", "natural-photos") })
            {
                var dir = Directory.CreateDirectory(Path.Combine(zoo, folder)).FullName;
                foreach (var f in Directory.GetFiles(Path.Combine(LabFactory.RepositoryRoot(), "models", folder)))
                    File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
            }
            await using var factory = new LabFactory(data, zoo);
            using var client = factory.CreateClient();

            var models = await client.GetFromJsonAsync<JsonElement>("/api/models");
            var imagenet = models.EnumerateArray().Single(m => m.GetProperty("id").GetString() == "imagenet-resnet18");
            Assert.Equal(70.81, imagenet.GetProperty("accuracy").GetDouble(), 2);
            Assert.Equal("imagenet-1k/val", imagenet.GetProperty("accuracyDataset").GetString());
            Assert.Contains("CNTK", imagenet.GetProperty("accuracyReportedBy").GetString());
            Assert.Equal("3×224×224", imagenet.GetProperty("inputShape").GetString());

            var probes = await client.GetFromJsonAsync<JsonElement>("/api/probesets");
            var photos = probes.EnumerateArray().Single(p => p.GetProperty("id").GetString() == "natural-photos");
            Assert.Equal(50, photos.GetProperty("count").GetInt32());
            var thumbnail = await client.GetAsync("/thumbnails/natural-photos/0.png");
            Assert.Equal(HttpStatusCode.OK, thumbnail.StatusCode);

            var created = await client.PostAsJsonAsync("/api/runs", new { modelId = "imagenet-resnet18", probeSetId = "natural-photos", transform = "rotation", images = 4 });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var run = await LabFactory.WaitForRunAsync(client, (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32());
            Assert.True(run.GetProperty("status").GetString() == "done", run.ToString());
            var result = EquivarianceLab.Measure.MeasurementResult.FromJson(run.GetProperty("result").GetRawText());
            Assert.Equal(4, result.Images);
            Assert.Contains("Pool", result.Parts.Keys);
            Assert.DoesNotContain("Final", result.Parts.Keys); // a featurizer: no classifier
            Assert.All(result.Layers, l => Assert.NotNull(l.Equivariance));
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    /// <summary>Conv-ReLU ×3, global pooling and a linear head on [N, 1, 28, 28].</summary>
    private static byte[] TinyCnn()
    {
        var b = new EquivarianceLab.Tests.TestModels.OnnxGraphBuilder();
        var random = new Random(3);
        float[] W(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var x = b.Input("x", "N", 1, 28, 28);
        var r1 = b.Relu(b.Conv(x, W(4 * 9), [4, 1, 3, 3], W(4), pads: [1], output: "conv1"), "relu1");
        var r2 = b.Relu(b.Conv(r1, W(4 * 4 * 9), [4, 4, 3, 3], W(4), pads: [1], output: "conv2"), "relu2");
        var r3 = b.Relu(b.Conv(r2, W(4 * 4 * 9), [4, 4, 3, 3], W(4), pads: [1], output: "conv3"), "relu3");
        var pool = b.GlobalAveragePool(r3, "pool");
        var logits = b.Gemm(b.Flatten(pool, output: "flat"), W(40), 10, 4, W(10), "logits");
        b.Output(logits, "N", 10);
        return b.ToBytes();
    }
}
