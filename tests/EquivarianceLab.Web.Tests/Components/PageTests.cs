using System.Text.Json;
using EquivarianceLab.Web.Components.Charts;
using EquivarianceLab.Web.Compare.Pages;
using EquivarianceLab.Web.Models.Pages;
using EquivarianceLab.Web.ProbeSets.Pages;
using EquivarianceLab.Web.Runs;
using EquivarianceLab.Web.Runs.Pages;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Jobs;
using Microsoft.Extensions.DependencyInjection;

namespace EquivarianceLab.Web.Tests.Components;

public sealed class PageTests : MudTestBase
{
    private static List<string> SeriesNames(IRenderedComponent<ApexChart> chart)
    {
        using var doc = JsonDocument.Parse(chart.Instance.OptionsJson);
        return doc.RootElement.GetProperty("series").EnumerateArray().Select(s => s.GetProperty("name").GetString()!).ToList();
    }

    [Fact]
    public void Models_lists_models_and_opens_the_card_named_in_the_url()
    {
        AddModel("cnn-a", "CNN A", 91.5);
        AddModel("mlp-b", "MLP B", null, family: "MLP");

        var cut = RenderAt<ModelsPage>("models?id=cnn-a");

        var rows = cut.FindAll("[data-testid=models-table] tbody tr");
        Assert.Equal(2, rows.Count);
        Assert.Contains("CNN A", cut.Find("[data-testid=model-card]").TextContent);
        Assert.Contains("91.5 %", cut.Markup);
    }

    [Fact]
    public async Task Models_saves_an_edited_accuracy()
    {
        AddModel("cnn-a", "CNN A", 91.5);
        var cut = RenderAt<ModelsPage>("models?id=cnn-a");

        cut.Find("input[data-testid=accuracy-input], [data-testid=accuracy-input] input").Change("88.25");
        await cut.Find("[data-testid=accuracy-save]").ClickAsync(new());

        using var db = DbFactory.CreateDbContext();
        Assert.Equal(88.25, db.Models.Single().Accuracy);
    }

    [Fact]
    public void Probe_sets_show_a_thumbnail_grid()
    {
        AddProbeSet();
        var cut = Render<ProbeSetsPage>();
        Assert.Equal(4, cut.FindAll("[data-testid=thumbnails] img").Count);
        Assert.Equal("thumbnails/fashion-mnist-test/0.png", cut.Find("[data-testid=thumbnails] img").GetAttribute("src"));
    }

    [Fact]
    public async Task New_measurement_queues_one_cpu_job_per_model()
    {
        AddProbeSet();
        AddModel("cnn-a", "CNN A", 90);
        AddModel("cnn-b", "CNN B", 80);
        var cut = RenderAt<NewMeasurement>("measure?models=cnn-a,cnn-b&transform=translation&maxShift=3");

        await cut.Find("[data-testid=queue-button]").ClickAsync(new());

        Assert.Equal(2, Jobs.Created.Count);
        Assert.All(Jobs.Created, j => Assert.Equal("cpu", ((Hangfire.States.EnqueuedState)j.State).Queue));
        using var db = DbFactory.CreateDbContext();
        var runs = db.Runs.OrderBy(r => r.Id).ToList();
        Assert.Equal(["cnn-a", "cnn-b"], runs.Select(r => r.ModelId));
        Assert.All(runs, r => { Assert.Equal("translation", r.Transform); Assert.Equal(3, r.MaxShift); Assert.Equal(RunStatus.Queued, r.Status); });
        Assert.EndsWith($"runs?highlight={runs[0].Id},{runs[1].Id}", Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>().Uri);
    }

    [Fact]
    public void Runs_shows_pushed_progress_and_failures()
    {
        AddProbeSet();
        AddModel("cnn-a", "CNN A", 90);
        var running = AddRun("cnn-a", RunStatus.Running);
        AddRun("cnn-a", RunStatus.Failed, "cnn-a.onnx is not an ONNX model.");
        var cut = Render<RunsPage>();
        Assert.Contains("cnn-a.onnx is not an ONNX model.", cut.Find("[data-testid=run-error]").TextContent);

        Services.GetRequiredService<RunProgressNotifier>().Publish(new RunUpdate(running.Id, RunStatus.Running, 32, 64, 12, null));

        cut.WaitForAssertion(() => Assert.Contains("32 / 64 images", cut.Markup));
        Assert.Contains("ETA 12 s", cut.Markup);
    }

    [Fact]
    public void Run_shows_part_layer_and_transform_charts_and_the_tables()
    {
        AddProbeSet();
        AddModel("cnn-a", "CNN A", 90);
        var run = AddDoneRun("cnn-a", "translation");

        var cut = Render<RunDetails>(ps => ps.Add(p => p.RunId, run.Id));

        var charts = cut.FindComponents<ApexChart>();
        Assert.Equal(3, charts.Count);
        Assert.Equal(["Invariance", "Equivariance"], SeriesNames(charts[0]));
        using (var doc = JsonDocument.Parse(charts[1].Instance.OptionsJson))
        {
            // Score against shift size: shift1 … shift4 in numeric order.
            Assert.Equal(["shift1", "shift2", "shift3", "shift4"], doc.RootElement.GetProperty("xaxis").GetProperty("categories").EnumerateArray().Select(e => e.GetString()));
        }
        Assert.Equal(5, cut.FindAll("[data-testid=parts-table] tbody tr").Count);
        Assert.Equal(8, cut.FindAll("[data-testid=layers-table] tbody tr").Count);
        Assert.Equal($"api/runs/{run.Id}.csv", cut.Find("[data-testid=download-csv]").GetAttribute("href"));
        Assert.Equal($"api/runs/{run.Id}.json", cut.Find("[data-testid=download-json]").GetAttribute("href"));
    }

    [Fact]
    public void Run_that_does_not_exist_says_so()
    {
        var cut = Render<RunDetails>(ps => ps.Add(p => p.RunId, 404));
        Assert.NotNull(cut.Find("[data-testid=run-missing]"));
    }

    [Fact]
    public void Compare_draws_one_series_per_run_in_link_order()
    {
        AddProbeSet();
        AddModel("cnn-a", "CNN A", 90);
        AddModel("cnn-b", "CNN B", 80);
        var a = AddDoneRun("cnn-a");
        var b = AddDoneRun("cnn-b", seed: 3);

        var cut = RenderAt<ComparePage>($"compare?runs={b.Id},{a.Id}");

        var charts = cut.FindComponents<ApexChart>();
        Assert.Equal(2, charts.Count);
        Assert.Equal(["CNN B", "CNN A"], SeriesNames(charts[0]));
        Assert.Equal(2, cut.FindAll("[data-testid=compare-table] tbody tr").Count);

        var layers = RenderAt<ComparePage>($"compare?runs={a.Id},{b.Id}&view=layers");
        using var doc = JsonDocument.Parse(layers.FindComponents<ApexChart>()[0].Instance.OptionsJson);
        Assert.Equal("numeric", doc.RootElement.GetProperty("xaxis").GetProperty("type").GetString());
    }
}
