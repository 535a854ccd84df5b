using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.Cards;
using EquivarianceLab.Tests.TestModels;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Tests.Fakes;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// Issue 14, item 3: an uploaded P4 group CNN (TestModels/P4Network.cs) lists its layers through the API with the
/// default selection the library makes, and a run with the user's own layer choice, measured by the real worker,
/// measures exactly those layers.
/// </summary>
public sealed class LayerChoiceTests
{
    [Fact]
    public async Task An_uploaded_P4_network_lists_its_layers_and_a_run_measures_exactly_the_layers_chosen()
    {
        var data = LabFactory.NewFolder("layers");
        var zoo = LabFactory.ZooWithFashionMnist();
        try
        {
            await using var factory = new LabFactory(data, zoo);
            using var client = factory.CreateClient();
            using var form = new MultipartFormDataContent { { new ByteArrayContent(P4Network.Build(size: 28).ToBytes()), "file", "p4.onnx" } };
            var uploaded = await client.PostAsync("/api/models", form);
            Assert.Equal(HttpStatusCode.Created, uploaded.StatusCode);
            var id = (await uploaded.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;

            var layers = (await client.GetFromJsonAsync<JsonElement>($"/api/models/{id}/layers")).EnumerateArray().ToList();
            Assert.Equal(
                ["lift", "lift_relu", "gconv", "gconv_relu", "group_pool", "se_pool", "se_gate", "se_scale", "pool", "flat", "logits", "probs"],
                layers.Select(l => l.GetProperty("name").GetString()));
            var selected = layers.Where(l => l.GetProperty("default").GetBoolean()).ToDictionary(l => l.GetProperty("name").GetString()!);
            Assert.Equal(["lift_relu", "gconv_relu", "group_pool", "pool", "logits"], selected.Keys);
            // The Pool is the reduction before the classifier, not the ReduceMean of the squeeze-and-excitation block.
            Assert.Equal("GlobalAveragePool", selected["pool"].GetProperty("op").GetString());
            Assert.Equal("Pool", selected["pool"].GetProperty("part").GetString());
            Assert.Equal("Late", selected["group_pool"].GetProperty("part").GetString());
            Assert.Equal([2L, 28, 28], selected["group_pool"].GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()));
            Assert.Equal("Final", selected["logits"].GetProperty("part").GetString());
            var sePool = layers.Single(l => l.GetProperty("name").GetString() == "se_pool");
            Assert.Equal(JsonValueKind.Null, sePool.GetProperty("part").ValueKind);

            // Given out of forward order, measured in it; se_pool is a vector outside the default, gconv a pre-activation.
            var created = await client.PostAsJsonAsync("/api/runs", new
            {
                modelId = id, transform = "rotation", images = 8, layers = new[] { "se_pool", "gconv_relu", "gconv", "lift_relu" },
            });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var run = await LabFactory.WaitForRunAsync(client, (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32());
            Assert.True(run.GetProperty("status").GetString() == "done", run.ToString());
            string[] forward = ["lift_relu", "gconv", "gconv_relu", "se_pool"];
            Assert.Equal(forward, run.GetProperty("layers").EnumerateArray().Select(l => l.GetString()));
            var result = run.GetProperty("result").GetProperty("layers").EnumerateArray().ToList();
            Assert.Equal(forward, result.Select(l => l.GetProperty("name").GetString()));
            // Known by construction: the lifted and group-conv maps turn with the image (orientations permuted).
            foreach (var layer in result.Take(3))
                Assert.Equal(1.0, layer.GetProperty("equivariance").GetDouble(), 4);
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    [Fact]
    public async Task Unknown_layers_and_a_logits_layer_not_measured_are_refused_at_submission_naming_them()
    {
        var data = LabFactory.NewFolder("layers-bad");
        var zoo = LabFactory.ZooWithFashionMnist();
        try
        {
            LabFactory.AddZooModel(zoo, "control-a", "Control A", 80, P4Network.Build(size: 28).ToBytes());
            var runner = new CountingRunner();
            await using var factory = new LabFactory(data, zoo, runner);
            using var client = factory.CreateClient();

            var unknown = await client.PostAsJsonAsync("/api/runs", new { modelId = "control-a", layers = new[] { "conv1", "nope", "conv9" } });
            Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
            Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
            var message = (await unknown.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("layers")[0].GetString()!;
            Assert.Equal("Model 'Control A' has no measurable layers 'nope', 'conv9'; GET /api/models/{id}/layers lists them.", message);

            var logits = await client.PostAsJsonAsync("/api/runs", new { modelId = "control-a", layers = new[] { "conv1", "pool" }, logits = "logits" });
            Assert.Equal(HttpStatusCode.BadRequest, logits.StatusCode);
            Assert.Contains("'logits' is not one of the layers asked for",
                (await logits.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("logits")[0].GetString());

            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/models/no-such-model/layers")).StatusCode);
            // The zoo model was opened once for its listing; later requests read the stored one.
            Assert.Equal(FakeMeasurementRunner.Listing.Count, (await client.GetFromJsonAsync<JsonElement>("/api/models/control-a/layers")).GetArrayLength());
            Assert.Equal(1, runner.Inspected);
            Assert.Equal(0, runner.Measured);
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    private sealed class CountingRunner : DelegatingRunner
    {
        public int Inspected;
        public int Measured => ((FakeMeasurementRunner)Inner).Measured;

        public CountingRunner() => Inner = new FakeMeasurementRunner();

        public override ModelInspection InspectModel(string path, ModelCard card)
        {
            Interlocked.Increment(ref Inspected);
            return base.InspectModel(path, card);
        }
    }

}
