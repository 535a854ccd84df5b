using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.Measure;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>Continuous transforms queued through the API: the angles travel to the worker, back in the result, and into a re-run.</summary>
public sealed class ContinuousRunTests
{
    [Fact]
    public async Task A_continuous_rotation_at_90_degrees_gives_the_rot90_of_a_rotation_run_and_keeps_its_angles()
    {
        var data = LabFactory.NewFolder("continuous");
        var zoo = LabFactory.ZooWithFashionMnist();
        try
        {
            LabFactory.AddBuiltinControl(zoo, "control-rotation-equivariant", "Rotation-equivariant control");
            await using var factory = new LabFactory(data, zoo);
            using var client = factory.CreateClient();

            async Task<(int Id, JsonElement Run)> RunAsync(object request)
            {
                var created = await client.PostAsJsonAsync("/api/runs", request);
                Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
                var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
                var run = await LabFactory.WaitForRunAsync(client, id);
                Assert.True(run.GetProperty("status").GetString() == "done", run.ToString());
                return (id, run);
            }

            var (_, discrete) = await RunAsync(new { modelId = "control-rotation-equivariant", transform = "rotation", images = 4 });
            var (id, continuous) = await RunAsync(new { modelId = "control-rotation-equivariant", transform = "rotation-continuous", angles = new[] { 90.0, 45.0 }, images = 4 });

            Assert.Equal([90.0, 45.0], continuous.GetProperty("angles").EnumerateArray().Select(e => e.GetDouble()));
            var result = MeasurementResult.FromJson(continuous.GetProperty("result").GetRawText());
            Assert.Equal("rotation-continuous", result.Transform);
            Assert.Equal([90.0, 45.0], result.Angles!);
            var expected = MeasurementResult.FromJson(discrete.GetProperty("result").GetRawText());
            for (int l = 0; l < result.Layers.Count; l++)
            {
                var (a, b) = (expected.Layers[l].PerTransform["rot90"], result.Layers[l].PerTransform["rot90"]);
                Assert.Equal(a.Invariance!.Value, b.Invariance!.Value, 1e-2);
                Assert.Equal(a.Equivariance!.Value, b.Equivariance!.Value, 1e-2);
            }
            Assert.Equal(["rot90", "rot45"], result.Layers[0].PerTransform.Keys);

            // A re-run asks for the same angles.
            var rerun = await client.PostAsync($"/api/runs/{id}/rerun", null);
            var again = await client.GetFromJsonAsync<JsonElement>($"/api/runs/{(await rerun.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32()}");
            Assert.Equal([90.0, 45.0], again.GetProperty("angles").EnumerateArray().Select(e => e.GetDouble()));

            // Wrong values: a validation problem naming the field, nothing queued.
            foreach (var (request, field, says) in new (object, string, string)[]
            {
                (new { modelId = "control-rotation-equivariant", transform = "rotation", angles = new[] { 45.0 } }, "angles", "applies to transform rotation-continuous only"),
                (new { modelId = "control-rotation-equivariant", transform = "rotation-continuous", angles = new[] { 400.0 } }, "angles", "within ±360"),
                (new { modelId = "control-rotation-equivariant", transform = "translation-continuous", shifts = new[] { 0.5, 0.5 } }, "shifts", "0.5"),
            })
            {
                var bad = await client.PostAsJsonAsync("/api/runs", request);
                Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
                var problem = await bad.Content.ReadFromJsonAsync<JsonElement>();
                Assert.Contains(says, problem.GetProperty("errors").GetProperty(field)[0].GetString());
            }
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }
}
