using System.Text.Json;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Components.Charts;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Results;
using EquivarianceLab.Web.Runs;
using EquivarianceLab.Web.Runs.Pages;
using EquivarianceLab.Web.Tests.Fakes;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Tests.Components;

/// <summary>The run page's ± in the tables, error bars on the part and layer charts.</summary>
public sealed class RunUncertaintyTests : MudTestBase
{
    /// <summary>A synthetic result where every score's interval is score ± 0.02 + 0.001·index (SE a quarter of that).</summary>
    private Run AddRunWithIntervals()
    {
        AddProbeSet();
        AddModel("cnn-a", "CNN A", 90);
        var plain = FakeMeasurementRunner.Synthetic("cnn-a", "fashion-mnist-test", RunRequest.ToOptions("rotation", "pearson", 64, 4));
        T With<T>(T u, double? inv, double? eq, double half) where T : Uncertainty => (T)((Uncertainty)u with
        {
            InvarianceStderr = half / 4, InvarianceInterval = new Interval(inv!.Value - half, inv.Value + half),
            EquivarianceStderr = half / 4, EquivarianceInterval = new Interval(eq!.Value - half, eq.Value + half),
        });
        var result = plain with
        {
            Layers = plain.Layers.Select(l => With(l with
            {
                PerTransform = l.PerTransform.ToDictionary(kv => kv.Key, kv => With(kv.Value, kv.Value.Invariance, kv.Value.Equivariance, 0.03)),
            }, l.Invariance, l.Equivariance, 0.02 + 0.001 * l.Index)).ToList(),
            Parts = plain.Parts.ToDictionary(kv => kv.Key, kv => With(kv.Value, kv.Value.Invariance, kv.Value.Equivariance, 0.04)),
        };
        using var db = DbFactory.CreateDbContext();
        var run = new Run
        {
            ModelId = "cnn-a", ProbeSetId = "fashion-mnist-test", Transform = "rotation", Similarity = "pearson", Images = 64, MaxShift = 4,
            Status = RunStatus.Done, ImagesDone = 64, ImagesTotal = 64, CreatedUtc = DateTime.UtcNow, FinishedUtc = DateTime.UtcNow,
        };
        ResultStore.Store(run, result);
        db.Runs.Add(run);
        db.SaveChanges();
        return run;
    }

    [Fact]
    public void Tables_show_plus_minus_the_half_width_and_say_what_it_is()
    {
        var run = AddRunWithIntervals();
        var cut = Render<RunDetails>(ps => ps.Add(p => p.RunId, run.Id));

        var early = cut.FindAll("[data-testid=parts-table] tbody tr")[0].QuerySelectorAll("td").Select(td => td.TextContent).ToList();
        using var json = JsonDocument.Parse(run.ResultJson!);
        var part = json.RootElement.GetProperty("parts").GetProperty("Early");
        Assert.Equal($"{part.GetProperty("invariance").GetDouble():0.000} ± 0.040", early[2]);
        Assert.Equal($"{part.GetProperty("equivariance").GetDouble():0.000} ± 0.040", early[3]);
        var layer3 = cut.FindAll("[data-testid=layers-table] tbody tr")[3].QuerySelectorAll("td").Select(td => td.TextContent).ToList();
        Assert.EndsWith(" ± 0.023", layer3[4]);
        Assert.EndsWith(" ± 0.030", layer3[6]); // per transform: invariance ± … / equivariance ± …
        Assert.Contains("95% interval", cut.Find("[data-testid=parts-table] th[title]").GetAttribute("title"));
        Assert.Contains("95% interval of each score over the 64 probe images", cut.Find("[data-testid=uncertainty-note]").TextContent);
    }

    [Fact]
    public void Part_and_layer_charts_carry_error_bars()
    {
        var run = AddRunWithIntervals();
        var cut = Render<RunDetails>(ps => ps.Add(p => p.RunId, run.Id));
        var charts = cut.FindComponents<ApexChart>();

        using (var parts = JsonDocument.Parse(charts[0].Instance.OptionsJson))
        {
            var bars = parts.RootElement.GetProperty("eqlab").GetProperty("errorBars");
            Assert.Equal(2, bars.GetArrayLength()); // invariance, equivariance
            var early = parts.RootElement.GetProperty("series")[0].GetProperty("data")[0].GetDouble();
            Assert.Equal([early - 0.04, early + 0.04], bars[0][0].EnumerateArray().Select(e => e.GetDouble()));
        }
        // The layer chart: two named lines, each point with its interval as a whisker.
        using var layers = JsonDocument.Parse(charts[2].Instance.OptionsJson);
        var series = layers.RootElement.GetProperty("series").EnumerateArray().ToList();
        Assert.Equal(["Invariance", "Equivariance"], series.Select(s => s.GetProperty("name").GetString()));
        var whiskers = layers.RootElement.GetProperty("eqlab").GetProperty("errorBars");
        var score = series[0].GetProperty("data")[2].GetDouble();
        Assert.Equal([score - 0.022, score + 0.022], whiskers[0][2].EnumerateArray().Select(e => e.GetDouble()));
    }

    [Fact]
    public void Stored_rows_hold_the_standard_errors_and_intervals()
    {
        var run = AddRunWithIntervals();
        using var db = DbFactory.CreateDbContext();
        var stored = db.Runs.Include(r => r.Layers).ThenInclude(l => l.PerTransform).Include(r => r.Parts).Single(r => r.Id == run.Id);
        var conv3 = stored.Layers.Single(l => l.Name == "conv3");
        Assert.Equal(0.022 / 4, conv3.InvarianceStderr!.Value, 12);
        Assert.Equal(conv3.Invariance!.Value - 0.022, conv3.InvarianceLow!.Value, 12);
        Assert.Equal(conv3.Equivariance!.Value + 0.022, conv3.EquivarianceHigh!.Value, 12);
        Assert.All(conv3.PerTransform, t => Assert.Equal(t.Equivariance!.Value - 0.03, t.EquivarianceLow!.Value, 12));
        var pool = stored.Parts.Single(p => p.Part == "Pool");
        Assert.Equal(0.01, pool.EquivarianceStderr!.Value, 12);
        Assert.Equal(pool.Invariance!.Value + 0.04, pool.InvarianceHigh!.Value, 12);
    }
}
