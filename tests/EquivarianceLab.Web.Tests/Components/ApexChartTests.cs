using System.Text.Json;
using EquivarianceLab.Web.Components.Charts;

namespace EquivarianceLab.Web.Tests.Components;

public sealed class ApexChartTests : MudTestBase
{
    private const string Module = "./Components/Charts/ApexChart.razor.js";

    private static object PartBars() => ApexOptions.Bars("run-1-parts", "Parts", ["Early", "Middle", "Late"],
        [new Series("Invariance", [0.1, 0.2, null]), new Series("Equivariance", [0.5, 0.6, 0.7])], "score", 0, 1);

    [Fact]
    public void Hands_the_options_json_to_the_js_module_on_first_render()
    {
        var module = JSInterop.SetupModule(Module);
        module.SetupVoid("render", _ => true).SetVoidResult();

        var cut = Render<ApexChart>(ps => ps.Add(c => c.Options, PartBars()).Add(c => c.Id, "run-1-parts"));

        var call = Assert.Single(module.Invocations["render"]);
        var json = Assert.IsType<string>(call.Arguments[1]);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal("bar", root.GetProperty("chart").GetProperty("type").GetString());
        Assert.True(root.GetProperty("chart").GetProperty("toolbar").GetProperty("tools").GetProperty("download").GetBoolean());
        Assert.Equal("run-1-parts", root.GetProperty("chart").GetProperty("toolbar").GetProperty("export").GetProperty("png").GetProperty("filename").GetString());
        Assert.Equal(["Early", "Middle", "Late"], root.GetProperty("xaxis").GetProperty("categories").EnumerateArray().Select(e => e.GetString()));
        var series = root.GetProperty("series").EnumerateArray().ToList();
        Assert.Equal(["Invariance", "Equivariance"], series.Select(s => s.GetProperty("name").GetString()));
        // A missing score is a gap (null), never zero.
        Assert.Equal(JsonValueKind.Null, series[0].GetProperty("data")[2].ValueKind);
        Assert.Equal(0.7, series[1].GetProperty("data")[2].GetDouble());
        Assert.Equal(json, cut.Instance.OptionsJson);
        Assert.NotNull(cut.Find("div[data-chart-id='run-1-parts']"));
    }

    [Fact]
    public void New_options_update_the_chart_and_unchanged_ones_do_nothing()
    {
        var module = JSInterop.SetupModule(Module);
        module.SetupVoid("render", _ => true).SetVoidResult();
        module.SetupVoid("update", _ => true).SetVoidResult();
        var cut = Render<ApexChart>(ps => ps.Add(c => c.Options, PartBars()));

        cut.Render(ps => ps.Add(c => c.Options, PartBars()));
        Assert.Empty(module.Invocations["update"]);

        var other = ApexOptions.Lines("layers", "Per layer", ["conv1", "conv2"], [new Series("Equivariance", [0.3, 0.4])], "layer", "score");
        cut.Render(ps => ps.Add(c => c.Options, other));
        var call = Assert.Single(module.Invocations["update"]);
        Assert.Contains("\"type\":\"line\"", (string)call.Arguments[1]!);
    }

    [Fact]
    public void Scatter_points_carry_model_names_and_skip_missing_scores()
    {
        var json = ApexOptions.Serialize(ApexOptions.Scatter("s", "Early", [new PointSeries("Equivariance", [new Point(90, 0.5, "A"), new Point(80, null, "B")])], "accuracy", "score"));
        using var doc = JsonDocument.Parse(json);
        var data = doc.RootElement.GetProperty("series")[0].GetProperty("data");
        Assert.Equal(1, data.GetArrayLength());
        Assert.Equal("A", data[0].GetProperty("name").GetString());
        Assert.True(doc.RootElement.GetProperty("eqlab").GetProperty("pointNames").GetBoolean());
    }
}
