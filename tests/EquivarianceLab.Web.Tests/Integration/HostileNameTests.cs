using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.Cards;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Tests.Fakes;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// A model and a probe set uploaded through the API with markup in their names, measured (the library faked) into a
/// result whose layers are named with markup and with a spreadsheet formula: the state the hostile-name tests read.
/// </summary>
public sealed class HostileNamesFixture : IAsyncLifetime
{
    public const string ModelName = "<img src=x onerror=alert(1)>";
    public const string ProbeName = "<script>alert(3)</script> & co";
    public const string MarkupLayer = "<img src=x onerror=alert(2)>";
    public const string FormulaLayer = "=HYPERLINK(\"http://evil.example\",\"open\")";

    public string Data { get; } = LabFactory.NewFolder("hostile-names");
    public string Zoo { get; } = LabFactory.ZooWithFashionMnist();
    public LabFactory Factory { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;
    public string ModelId { get; private set; } = "";
    public string ProbeSetId { get; private set; } = "";
    public int RunId { get; private set; }

    public async Task InitializeAsync()
    {
        Factory = new LabFactory(Data, Zoo, new RenamingRunner([FormulaLayer, MarkupLayer]));
        Client = Factory.CreateClient();
        ModelId = await UploadAsync("api/models", "model.onnx", FakeLab.FakeOnnx, ModelName);
        ProbeSetId = await UploadAsync("api/probesets", "probes.npy", new byte[64], ProbeName);
        using var queued = await Client.PostAsJsonAsync("api/runs", new { modelId = ModelId, probeSetId = ProbeSetId, images = 8 });
        Assert.Equal(HttpStatusCode.Created, queued.StatusCode);
        RunId = (await queued.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
        var until = DateTime.UtcNow.AddSeconds(60);
        while ((await Client.GetFromJsonAsync<JsonElement>($"api/runs/{RunId}")).GetProperty("status").GetString() != "done")
        {
            if (DateTime.UtcNow > until) throw new TimeoutException($"run {RunId} did not finish");
            await Task.Delay(100);
        }
    }

    private async Task<string> UploadAsync(string path, string fileName, byte[] bytes, string name)
    {
        using var form = new MultipartFormDataContent { { new ByteArrayContent(bytes), "file", fileName }, { new StringContent(name), "name" } };
        using var r = await Client.PostAsync(path, form);
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.Created, $"POST {path}: {(int)r.StatusCode} {body}");
        var created = JsonDocument.Parse(body).RootElement;
        Assert.Equal(name, created.GetProperty("name").GetString());
        return created.GetProperty("id").GetString()!;
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Factory.DisposeAsync();
        LabFactory.TryDelete(Data, Zoo);
    }

    /// <summary>The fake library, with the first layers of its result renamed (ONNX tensor names are whatever the file says).</summary>
    private sealed class RenamingRunner : DelegatingRunner
    {
        private readonly IReadOnlyList<string> names;

        public RenamingRunner(IReadOnlyList<string> names)
        {
            this.names = names;
            Inner = new FakeMeasurementRunner();
        }

        public override MeasurementResult Measure(string modelPath, ModelCard card, string probePath, MeasureOptions options, LayerChoice? layers,
            IProgress<MeasureProgress> progress, CancellationToken cancellationToken)
        {
            var result = Inner.Measure(modelPath, card, probePath, options, layers, progress, cancellationToken);
            return result with { Layers = result.Layers.Select((l, i) => i < names.Count ? l with { Name = names[i] } : l).ToList() };
        }
    }
}

/// <summary>
/// Names are text wherever the server writes them: pages encode markup in model, probe set and layer names (the
/// browser half — charts, tooltips, no script run — is in the E2E project), and the CSV download neutralises a layer
/// name that a spreadsheet would run as a formula. Downloads are named after the run id only.
/// </summary>
public sealed class HostileNameTests(HostileNamesFixture lab) : IClassFixture<HostileNamesFixture>
{
    [Theory]
    [InlineData("/", new[] { HostileNamesFixture.ModelName })]
    [InlineData("/models", new[] { HostileNamesFixture.ModelName })]
    [InlineData("/models?id={model}", new[] { HostileNamesFixture.ModelName })]
    [InlineData("/probesets", new[] { HostileNamesFixture.ProbeName })]
    [InlineData("/runs", new[] { HostileNamesFixture.ModelName, HostileNamesFixture.ProbeName })]
    [InlineData("/runs/{run}", new[] { HostileNamesFixture.ModelName, HostileNamesFixture.ProbeName, HostileNamesFixture.MarkupLayer, HostileNamesFixture.FormulaLayer })]
    [InlineData("/compare?runs={run}", new[] { HostileNamesFixture.ModelName })]
    public async Task Pages_show_markup_in_names_as_text(string path, string[] names)
    {
        var html = await lab.Client.GetStringAsync(path.Replace("{model}", lab.ModelId).Replace("{run}", lab.RunId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.DoesNotContain("<img src=x", html);
        Assert.DoesNotContain("<script>alert", html);
        var text = WebUtility.HtmlDecode(html);
        foreach (var name in names) Assert.Contains(name, text);
    }

    [Fact]
    public async Task The_csv_download_neutralises_a_layer_name_that_starts_a_formula()
    {
        using var r = await lab.Client.GetAsync($"api/runs/{lab.RunId}.csv");
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal($"run-{lab.RunId}.csv", r.Content.Headers.ContentDisposition?.FileName);
        var lines = (await r.Content.ReadAsStringAsync()).Split('\n');
        // The formula layer: quoted (it holds quotes and a comma), with a leading ' so that a spreadsheet shows it as text.
        var formula = lines.Where(l => l.Contains("HYPERLINK", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(formula);
        Assert.All(formula, l => Assert.Contains(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"open\"\")\",", l));
        // The model and probe set cells are text cells too; scores stay numbers.
        Assert.All(lines.Skip(1).Where(l => l.Length > 0), l => Assert.Contains($",{lab.ModelId},", l));
    }

    [Fact]
    public async Task The_json_download_is_named_after_the_run_id_only()
    {
        using var r = await lab.Client.GetAsync($"api/runs/{lab.RunId}.json");
        Assert.Equal($"run-{lab.RunId}-result.json", r.Content.Headers.ContentDisposition?.FileName);
    }
}
