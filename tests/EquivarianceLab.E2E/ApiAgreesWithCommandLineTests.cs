using System.Diagnostics;
using System.Text.Json;
using EquivarianceLab.E2E.Infrastructure;

namespace EquivarianceLab.E2E;

/// <summary>
/// A script's view of the dashboard (issue 4, "Checked by"): list the models, queue a run through the HTTP API, poll it
/// to done, and get the same numbers <c>eqlab measure</c> gives for the same model, probe set and settings.
/// </summary>
public sealed class ApiAgreesWithCommandLineTests() : ServerTest("api-cli")
{
    protected override void AddModels(TestZoo zoo) => zoo.AddTinyCnn("tiny-c", "Tiny CNN C", 80.0, seed: 3, channels: 6);

    [Theory]
    [InlineData("rotation", "pearson", 40, 16)]
    [InlineData("translation", "cosine", 24, 5)]
    [InlineData("flip", "pearson", 33, 16)]
    public async Task A_run_queued_through_the_api_has_the_numbers_of_eqlab_measure(string transform, string similarity, int images, int maxShift)
    {
        using var api = Server.CreateClient();
        var models = JsonDocument.Parse(await api.GetStringAsync("api/models")).RootElement;
        Assert.Contains("tiny-c", models.EnumerateArray().Select(m => m.GetProperty("id").GetString()));
        using var queued = await api.PostAsync("api/runs", new StringContent(
            JsonSerializer.Serialize(new { modelId = "tiny-c", probeSetId = "fashion-mnist-test", transform, similarity, images, maxShift }),
            System.Text.Encoding.UTF8, "application/json"));
        var id = JsonDocument.Parse(await queued.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetInt32();
        var run = await api.WaitForRunAsync(id, TimeSpan.FromMinutes(2));
        Assert.True(run.GetProperty("status").GetString() == "done", run.ToString());
        var fromApi = run.GetProperty("result");

        var output = Path.Combine(DataFolder, $"cli-{transform}.json");
        var cli = RunEqlab("measure", "--model", Path.Combine(Zoo.Folder, "tiny-c"), "--probe", Repo.FashionMnistTest,
            "--transform", transform, "--similarity", similarity, "--images", $"{images}", "--max-shift", $"{maxShift}", "--out", output);
        Assert.True(cli.ExitCode == 0, cli.Output);
        var fromCli = JsonDocument.Parse(File.ReadAllText(output)).RootElement;

        foreach (var key in new[] { "transform", "similarity", "images" })
            Assert.Equal(fromCli.GetProperty(key).ToString(), fromApi.GetProperty(key).ToString());
        var apiLayers = fromApi.GetProperty("layers").EnumerateArray().ToList();
        var cliLayers = fromCli.GetProperty("layers").EnumerateArray().ToList();
        Assert.Equal(cliLayers.Select(l => l.GetProperty("name").GetString()), apiLayers.Select(l => l.GetProperty("name").GetString()));
        foreach (var (a, c) in apiLayers.Zip(cliLayers))
        {
            Assert.Equal(c.GetProperty("part").ToString(), a.GetProperty("part").ToString());
            Close(c, a, c.GetProperty("name").GetString()!);
            var cliTransforms = c.GetProperty("perTransform").EnumerateObject().ToList();
            Assert.Equal(cliTransforms.Select(t => t.Name), a.GetProperty("perTransform").EnumerateObject().Select(t => t.Name));
            foreach (var t in cliTransforms) Close(t.Value, a.GetProperty("perTransform").GetProperty(t.Name), $"{c.GetProperty("name")} {t.Name}");
        }
        var cliParts = fromCli.GetProperty("parts").EnumerateObject().ToList();
        Assert.Equal(cliParts.Select(p => p.Name), fromApi.GetProperty("parts").EnumerateObject().Select(p => p.Name));
        foreach (var p in cliParts) Close(p.Value, fromApi.GetProperty("parts").GetProperty(p.Name), p.Name);
    }

    /// <summary>The same measure on the same inputs: equal up to float rounding (batching may differ).</summary>
    private static void Close(JsonElement expected, JsonElement actual, string what)
    {
        foreach (var key in new[] { "invariance", "equivariance" })
        {
            var e = expected.GetProperty(key);
            var a = actual.GetProperty(key);
            Assert.Equal(e.ValueKind, a.ValueKind);
            if (e.ValueKind == JsonValueKind.Number)
                Assert.True(Math.Abs(e.GetDouble() - a.GetDouble()) < 1e-6, $"{what} {key}: eqlab {e.GetDouble()}, API {a.GetDouble()}");
        }
    }

    private static (int ExitCode, string Output) RunEqlab(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Repo.EqlabDll);
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2))) process.Kill(entireProcessTree: true);
        process.WaitForExit();
        return (process.ExitCode, $"eqlab {string.Join(' ', args)}\n{stdout.Result}\n{stderr.Result}");
    }
}
