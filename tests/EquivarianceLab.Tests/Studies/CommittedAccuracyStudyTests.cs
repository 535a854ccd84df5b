using System.Globalization;
using System.Text.RegularExpressions;
using EquivarianceLab.Studies;

namespace EquivarianceLab.Tests.Studies;

/// <summary>
/// The committed <c>studies/accuracy-spearman.*</c> and <c>studies/accuracy-spearman-means.*</c>, and the README's
/// accuracy tables, are what the code computes from the committed per-model scores in <c>studies/accuracy.json</c> (so
/// a change of the statistics cannot leave them stale), and the study has every setting's three seeds.
/// </summary>
public partial class CommittedAccuracyStudyTests
{
    private static readonly string Root = FeatureModels.RepositoryPaths.Root
        ?? throw new InvalidOperationException("The repository root was not found above " + AppContext.BaseDirectory);

    // studies/accuracy.json holds 84 full results (32 MB): read once for all the tests of this class.
    private static readonly Lazy<IReadOnlyList<StudyEntry>> Committed =
        new(() => StudyOutput.ReadJson(File.ReadAllText(Path.Combine(Root, "studies", "accuracy.json"))));

    private static IReadOnlyList<StudyEntry> Entries() => Committed.Value;

    /// <summary>Each point a model (every seed), or each point a setting (its seeds' means).</summary>
    private static IReadOnlyList<AccuracyCorrelationRow> Computed(bool overSettingMeans) =>
        overSettingMeans ? AccuracyCorrelation.ComputeOverSettingMeans(Entries()) : AccuracyCorrelation.Compute(Entries());

    [Fact]
    public void Every_setting_of_the_study_has_three_seeds_measured_under_both_transforms()
    {
        var entries = Entries();
        foreach (var setting in entries.GroupBy(e => e.SettingName))
        {
            Assert.Equal(3, setting.Select(e => e.ModelId).Distinct().Count());
            Assert.Equal(new int?[] { 0, 1, 2 }, setting.Select(e => e.Seed).Distinct().Order());
            Assert.Equal(6, setting.Count());
        }
    }

    [Theory]
    [InlineData(false, "accuracy-spearman")]
    [InlineData(true, "accuracy-spearman-means")]
    public void The_committed_correlation_files_equal_what_the_code_computes_from_the_per_model_scores(bool overSettingMeans, string file)
    {
        var rows = Computed(overSettingMeans);
        Assert.Equal(StudyOutput.CorrelationCsv(rows), File.ReadAllText(Path.Combine(Root, "studies", file + ".csv")));
        Assert.Equal(StudyOutput.CorrelationJson(rows), File.ReadAllText(Path.Combine(Root, "studies", file + ".json")));
        // The README's groups: the 10-class models on fmnist/test (11 settings, 3 seeds each), the t approximation,
        // 10 000 resamples.
        var fmnist = rows.Where(r => r.TestSet == "fmnist/test").ToList();
        Assert.Equal(2 * 5 * 2, fmnist.Count);
        Assert.All(fmnist, r => { Assert.Equal(overSettingMeans ? 11 : 33, r.N); Assert.False(r.Exact); Assert.Equal(10_000, r.Resamples); });
    }

    [Theory]
    [InlineData(false, "models")]
    [InlineData(true, "settings")]
    public void The_readme_tables_are_the_computed_rows_rounded(bool overSettingMeans, string unit)
    {
        var rows = Computed(overSettingMeans).Where(r => r.TestSet == "fmnist/test").ToList();
        var n = rows.Select(r => r.N).Distinct().Single();
        var readme = File.ReadAllText(Path.Combine(Root, "README.md")).ReplaceLineEndings("\n");
        var section = readme[readme.IndexOf("### `accuracy`", StringComparison.Ordinal)..readme.IndexOf("## The dashboard", StringComparison.Ordinal)];
        int checkedRows = 0;
        foreach (var transform in new[] { "translation", "rotation" })
        {
            var caption = $"*{transform}, the {n} {unit}";
            var at = section.IndexOf(caption, StringComparison.Ordinal);
            Assert.True(at >= 0, $"The README's accuracy section has no table captioned '{caption}'.");
            var table = section[at..];
            table = table[..table.IndexOf("\n\n", table.IndexOf("|---", StringComparison.Ordinal), StringComparison.Ordinal)];
            foreach (Match m in TableRow().Matches(table))
            {
                var part = m.Groups["part"].Value;
                foreach (var (measure, offset) in new[] { (AccuracyCorrelation.Invariance, 0), (AccuracyCorrelation.Equivariance, 1) })
                {
                    var row = rows.Single(r => r.Transform == transform && r.Part == part && r.Measure == measure);
                    string Cell(string name) => m.Groups[name].Captures[offset].Value;
                    Assert.Equal(Math.Round(row.Rho!.Value, 2), double.Parse(Cell("rho"), CultureInfo.InvariantCulture));
                    Assert.Equal(Math.Round(row.P!.Value, 3), double.Parse(Cell("p"), CultureInfo.InvariantCulture));
                    Assert.Equal(Math.Round(row.Low!.Value, 2), double.Parse(Cell("low"), CultureInfo.InvariantCulture));
                    Assert.Equal(Math.Round(row.High!.Value, 2), double.Parse(Cell("high"), CultureInfo.InvariantCulture));
                }
                checkedRows++;
            }
        }
        Assert.Equal(10, checkedRows);
    }

    [GeneratedRegex(@"^\| (?<part>Early|Middle|Late|Pool|Final)(?: \| (?<rho>[+-]\d\.\d\d) \| (?<p>\d\.\d{3}) \| \[(?<low>[+-]\d\.\d\d), (?<high>[+-]\d\.\d\d)\]){2} \|$", RegexOptions.Multiline)]
    private static partial Regex TableRow();
}
