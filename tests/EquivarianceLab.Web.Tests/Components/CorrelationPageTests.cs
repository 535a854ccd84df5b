using System.Globalization;
using System.Text.Json;
using EquivarianceLab.Studies;
using EquivarianceLab.Web.Compare;
using EquivarianceLab.Web.Compare.Pages;
using EquivarianceLab.Web.Components.Charts;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Results;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

namespace EquivarianceLab.Web.Tests.Components;

/// <summary>The Correlation page: one group of comparable runs at a time, named in the URL, with what was left out.</summary>
public sealed class CorrelationPageTests : MudTestBase
{
    /// <summary>
    /// Four models whose synthetic invariance grows with the seed (0–3), accuracies 80 70 90 85: score ranks 1 2 3 4
    /// against accuracy ranks 2 1 4 3, Σd² = 4, ρ = 1 − 6·4/(4·15) = 0.6, exact p = 10/24 (Σd² ≤ 4 or ≥ 16 in 10 of
    /// the 24 orderings). Three of them again with maxShift 2, and on another probe set: separate groups.
    /// </summary>
    private (Run Older, List<Run> Main, Run NoAccuracy) Seed()
    {
        AddProbeSet();
        AddProbeSet("other-set", "Other set");
        double[] accuracy = [80, 70, 90, 85];
        for (var i = 0; i < 4; i++) AddModel($"m{i}", $"Model {i}", accuracy[i]);
        AddModel("none", "No accuracy", null);
        var older = AddDoneRun("m0", seed: 7);
        var main = Enumerable.Range(0, 4).Select(i => AddDoneRun($"m{i}", seed: i)).ToList();
        for (var i = 0; i < 3; i++)
        {
            AddDoneRun($"m{i}", seed: i, maxShift: 2);
            AddDoneRun($"m{i}", seed: i, probeId: "other-set");
        }
        return (older, main, AddDoneRun("none", seed: 1));
    }

    [Fact]
    public async Task Without_a_group_the_page_names_the_largest_in_its_url()
    {
        Seed();
        var groups = (await Services.GetRequiredService<CompareService>().CorrelationGroupsAsync()).Groups;
        Assert.Equal([4, 3, 3], groups.Select(g => g.N));
        RenderAt<CorrelationStudy>("correlation");
        Assert.EndsWith("correlation?group=" + Uri.EscapeDataString(groups[0].Id), Services.GetRequiredService<NavigationManager>().Uri);
    }

    [Fact]
    public async Task The_page_shows_one_group_with_rho_p_interval_and_what_was_left_out()
    {
        var (older, main, noAccuracy) = Seed();
        var key = (await Services.GetRequiredService<CompareService>().CorrelationGroupsAsync()).Groups[0].Id;

        var cut = RenderAt<CorrelationStudy>($"correlation?group={Uri.EscapeDataString(key)}");

        Assert.Contains("n = 4", cut.Find("[data-testid=group-select]").OuterHtml);
        Assert.Contains("each of 4 models (maxShift 4, pearson, 64 images of Fashion-MNIST test (10k)); accuracy measured on unstated", cut.Find("[data-testid=group-description]").TextContent);
        var rows = cut.FindAll("[data-testid=rho-table] tbody tr");
        Assert.Equal(["Early", "Middle", "Late", "Pool", "Final"], rows.Select(r => r.GetAttribute("data-part")));
        var early = rows[0].QuerySelectorAll("td").Select(td => td.TextContent.Trim()).ToList();
        Assert.Equal("0.600", early[1]);
        Assert.Equal("4", early[2]);
        Assert.Equal((10.0 / 24).ToString("0.000", CultureInfo.InvariantCulture) + " (exact)", early[3]);
        var interval = early[4].Trim('[', ']').Split(", ").Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        Assert.InRange(0.6, interval[0], interval[1]);
        Assert.Equal("—", early[5]); // equivariance is the same for every model: no ρ
        Assert.Contains("No ρ: Early equivariance is the same", cut.Markup);

        Assert.Equal(main.Select(r => $"#{r.Id}"), cut.FindAll("[data-testid=group-runs] tbody tr td:first-child").Select(td => td.TextContent.Trim()));
        var leftOut = cut.FindAll("[data-testid=left-out] tbody tr").Select(r => r.TextContent).ToList();
        Assert.Equal(2, leftOut.Count);
        Assert.Contains($"#{older.Id}", leftOut[0]);
        Assert.Contains($"An older run of Model 0: each model counts once, with its newest run (#{main[0].Id}).", leftOut[0]);
        Assert.Contains($"#{noAccuracy.Id}", leftOut[1]);
        Assert.Contains("No accuracy has no accuracy", leftOut[1]);

        // The ρ chart: both series named, each bar's interval as a whisker (none where there is no ρ).
        var chart = cut.FindComponents<ApexChart>()[0];
        using var doc = JsonDocument.Parse(chart.Instance.OptionsJson);
        Assert.Equal(["Invariance ρ", "Equivariance ρ"], doc.RootElement.GetProperty("series").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        var whiskers = doc.RootElement.GetProperty("eqlab").GetProperty("errorBars");
        Assert.Equal(interval, whiskers[0][0].EnumerateArray().Select(v => Math.Round(v.GetDouble(), 3)));
        // No equivariance ρ, so no whiskers: the series carries none (null), or a null per bar.
        Assert.True(whiskers[1].ValueKind == JsonValueKind.Null || whiskers[1].EnumerateArray().All(w => w.ValueKind == JsonValueKind.Null), whiskers[1].ToString());
        Assert.Equal("whiskers: bootstrap 95% interval", doc.RootElement.GetProperty("subtitle").GetProperty("text").GetString());
        Assert.False(doc.RootElement.GetProperty("dataLabels").GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public void An_unknown_group_is_said_so()
    {
        Seed();
        var cut = RenderAt<CorrelationStudy>("correlation?group=nothing");
        Assert.Contains("No group of comparable runs 'nothing'", cut.Find("[data-testid=unknown-group]").TextContent);
        Assert.Empty(cut.FindAll("[data-testid=rho-table]"));
    }

    /// <summary>
    /// The README's accuracy study, replayed through the dashboard: every model of <c>studies/accuracy.json</c> with its
    /// card accuracy and test set, and one run per transform with the study's scores. The service's ρ, p and interval
    /// equal the committed <c>studies/accuracy-spearman.csv</c> (from which the README's tables are rounded).
    /// </summary>
    [Fact]
    public async Task The_readme_accuracy_study_gives_the_same_numbers_in_the_dashboard()
    {
        var root = FeatureModels.RepositoryPaths.Root!;
        var entries = StudyOutput.ReadJson(File.ReadAllText(Path.Combine(root, "studies", "accuracy.json")));
        AddProbeSet();
        using (var db = DbFactory.CreateDbContext())
        {
            foreach (var e in entries.DistinctBy(e => e.ModelId)) db.Models.Add(new ModelEntry
            {
                Id = e.ModelId, Name = e.DisplayName ?? e.ModelId, Format = "torchsharp", Source = Sources.Zoo, FileName = "x", CardJson = "{}",
                InputShape = "1×28×28", Accuracy = e.Accuracy, AccuracyDataset = e.AccuracyDataset, AddedUtc = DateTime.UtcNow,
            });
            foreach (var e in entries)
            {
                var run = new Run
                {
                    ModelId = e.ModelId, ProbeSetId = "fashion-mnist-test", Transform = e.Result.Transform, Similarity = e.Result.Similarity,
                    Images = e.Result.Images, MaxShift = e.Result.MaxShift, Status = RunStatus.Done, CreatedUtc = DateTime.UtcNow, FinishedUtc = DateTime.UtcNow,
                };
                ResultStore.Store(run, e.Result);
                db.Runs.Add(run);
            }
            db.SaveChanges();
        }

        var study = CompareService.WithStatistics(await Services.GetRequiredService<CompareService>().CorrelationGroupsAsync(), null);
        var csv = ReadCsv(Path.Combine(root, "studies", "accuracy-spearman.csv"));
        int ModelsScoredOn(string testSet) => entries.Where(e => e.AccuracyDataset == testSet).Select(e => e.ModelId).Distinct().Count();
        var compared = 0;
        foreach (var group in study.Groups.Where(g => g.Key.TestSet == "fmnist/test"))
        {
            // Every seed of every 10-class setting is a point of its own.
            Assert.Equal(ModelsScoredOn("fmnist/test"), group.N);
            foreach (var part in group.Parts!)
            {
                foreach (var (measure, c) in new[] { ("invariance", part.Invariance), ("equivariance", part.Equivariance) })
                {
                    var row = csv.Single(r => r["testSet"] == "fmnist/test" && r["transform"] == group.Key.Transform && r["part"] == part.Part && r["measure"] == measure);
                    Assert.Equal(double.Parse(row["rho"], CultureInfo.InvariantCulture), c.Rho);
                    Assert.Equal(double.Parse(row["p"], CultureInfo.InvariantCulture), c.P);
                    Assert.Equal(int.Parse(row["n"], CultureInfo.InvariantCulture), c.N);
                    Assert.Equal(double.Parse(row["low"], CultureInfo.InvariantCulture), c.Interval!.Low);
                    Assert.Equal(double.Parse(row["high"], CultureInfo.InvariantCulture), c.Interval!.High);
                    compared++;
                }
            }
        }
        Assert.Equal(2 * 5 * 2, compared);
        // The FMNIST-6 tasks, each on a test set of its own, are never pooled with the others or with one another:
        // each of their groups holds only that task's seeds.
        var others = study.Groups.Where(g => g.Key.TestSet != "fmnist/test").ToList();
        Assert.Equal(3 * 2, others.Count);
        Assert.All(others, g => Assert.Equal(ModelsScoredOn(g.Key.TestSet), g.N));
    }

    /// <summary>A plain CSV reader (quoted fields with doubled quotes), independent of the app's writer.</summary>
    private static List<Dictionary<string, string>> ReadCsv(string path)
    {
        static List<string> Fields(string line)
        {
            var fields = new List<string>();
            var current = new System.Text.StringBuilder();
            var quoted = false;
            for (var i = 0; i < line.Length; i++)
            {
                var ch = line[i];
                if (quoted && ch == '"' && i + 1 < line.Length && line[i + 1] == '"') { current.Append('"'); i++; }
                else if (ch == '"') quoted = !quoted;
                else if (ch == ',' && !quoted) { fields.Add(current.ToString()); current.Clear(); }
                else current.Append(ch);
            }
            fields.Add(current.ToString());
            return fields;
        }
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToList();
        var header = Fields(lines[0]);
        return lines.Skip(1).Select(l => header.Zip(Fields(l)).ToDictionary(p => p.First, p => p.Second)).ToList();
    }
}
