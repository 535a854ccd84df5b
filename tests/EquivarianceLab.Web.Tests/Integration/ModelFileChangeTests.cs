using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.Web.Models;
using Microsoft.Extensions.DependencyInjection;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// A model's file replaced under the same id — a zoo checkpoint retrained in a new release, registered when the server
/// starts — against the real app (SQLite, Hangfire; the library faked): a run of the earlier file says so, leaves every
/// correlation (its model's accuracy is now the new file's) and draws its feature maps from the file it measured; a
/// new run of the model counts again.
/// </summary>
public sealed class ModelFileChangeTests : IAsyncLifetime
{
    private readonly FakeLab _lab = new("model-file-change", ("m-a", "Model A", 80), ("m-bb", "Model B", 70), ("m-ccc", "Model C", 90));

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _lab.DisposeAsync().AsTask();

    private async Task<int> MeasureAsync(string model)
    {
        var created = await _lab.Client.PostAsJsonAsync("/api/runs", new { modelId = model, probeSetId = "fashion-mnist-test", transform = "rotation", images = 64 });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
        Assert.Equal("done", (await LabFactory.WaitForRunAsync(_lab.Client, id)).GetProperty("status").GetString());
        return id;
    }

    private async Task<bool> FileChangedAsync(int run) =>
        (await _lab.Client.GetFromJsonAsync<JsonElement>($"/api/runs/{run}")).GetProperty("modelFileChanged").GetBoolean();

    private async Task<(int[] Counted, JsonElement[] LeftOut)> CorrelationAsync()
    {
        var study = await _lab.Client.GetFromJsonAsync<JsonElement>("/api/correlation");
        var group = study.GetProperty("groups").EnumerateArray().Single();
        var counted = group.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("runId").GetInt32()).Order().ToArray();
        var leftOut = study.GetProperty("leftOut").EnumerateArray().Concat(group.GetProperty("leftOut").EnumerateArray()).ToArray();
        return (counted, leftOut);
    }

    private async Task<byte[]> FeatureMapModelAsync(int run)
    {
        var maps = await _lab.Client.GetAsync($"/api/runs/{run}/feature-maps?image=0&layer=conv1&channel=0&transform=rot90");
        Assert.Equal(HttpStatusCode.OK, maps.StatusCode);
        return _lab.Runner.FeatureMapModelBytes!;
    }

    [Fact]
    public async Task A_run_of_an_earlier_file_is_flagged_left_out_of_correlations_and_keeps_its_feature_maps()
    {
        int a = await MeasureAsync("m-a"), b = await MeasureAsync("m-bb"), c = await MeasureAsync("m-ccc");
        Assert.False(await FileChangedAsync(a));
        var (counted, leftOut) = await CorrelationAsync();
        Assert.Equal([a, b, c], counted);
        Assert.Empty(leftOut);

        // A new release brings another file for m-a: the server registers its zoo again when it starts.
        var oldFile = FakeLab.FakeOnnx;
        byte[] newFile = [.. FakeLab.FakeOnnx, 0x1a, 0x01, 0x32];
        File.WriteAllBytes(Path.Combine(_lab.ZooFolder, "m-a", "model.onnx"), newFile);
        await _lab.Services.GetRequiredService<ModelService>().RegisterZooAsync();

        Assert.True(await FileChangedAsync(a));
        Assert.False(await FileChangedAsync(b));
        (counted, leftOut) = await CorrelationAsync();
        Assert.Equal([b, c], counted);
        var reason = Assert.Single(leftOut, r => r.GetProperty("runId").GetInt32() == a).GetProperty("reason").GetString();
        Assert.Contains("file has changed since this run measured it", reason);
        // Its feature maps come from the file it measured, which the store kept; the other runs' from their own.
        Assert.Equal(oldFile, await FeatureMapModelAsync(a));

        // Measured again, the model counts with its new run; the old run stays out, still with that reason.
        var again = await MeasureAsync("m-a");
        Assert.False(await FileChangedAsync(again));
        Assert.Equal(newFile, await FeatureMapModelAsync(again));
        (counted, leftOut) = await CorrelationAsync();
        Assert.Equal([b, c, again], counted);
        Assert.Contains("file has changed", Assert.Single(leftOut, r => r.GetProperty("runId").GetInt32() == a).GetProperty("reason").GetString());
    }
}
