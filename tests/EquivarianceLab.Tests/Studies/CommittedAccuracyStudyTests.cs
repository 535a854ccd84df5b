using System.Globalization;
using System.Text.RegularExpressions;
using EquivarianceLab.Studies;

namespace EquivarianceLab.Tests.Studies;

/// <summary>
/// The committed <c>studies/accuracy-spearman.csv</c> and the README's accuracy tables are what the code computes from
/// the committed per-model scores in <c>studies/accuracy.json</c> (so a change of the statistics cannot leave them stale).
/// </summary>
public partial class CommittedAccuracyStudyTests
{
    private static readonly string Root = FeatureModels.RepositoryPaths.Root
        ?? throw new InvalidOperationException("The repository root was not found above " + AppContext.BaseDirectory);

    private static IReadOnlyList<AccuracyCorrelationRow> Computed() =>
        AccuracyCorrelation.Compute(StudyOutput.ReadJson(File.ReadAllText(Path.Combine(Root, "studies", "accuracy.json"))));

    [Fact]
    public void The_committed_correlation_files_equal_what_the_code_computes_from_the_per_model_scores()
    {
        var rows = Computed();
        var csv = File.ReadAllText(Path.Combine(Root, "studies", "accuracy-spearman.csv"));
        Assert.Equal(StudyOutput.CorrelationCsv(rows), csv);
        Assert.Equal(StudyOutput.CorrelationJson(rows), File.ReadAllText(Path.Combine(Root, "studies", "accuracy-spearman.json")));
        // The README's groups: 11 models on fmnist/test, the t approximation, 10 000 resamples.
        Assert.All(rows.Where(r => r.TestSet == "fmnist/test"), r => { Assert.Equal(11, r.N); Assert.False(r.Exact); Assert.Equal(10_000, r.Resamples); });
    }

    [Fact]
    public void The_readme_tables_are_the_computed_rows_rounded()
    {
        var rows = Computed().Where(r => r.TestSet == "fmnist/test").ToList();
        var readme = File.ReadAllText(Path.Combine(Root, "README.md"));
        var section = readme[readme.IndexOf("### `accuracy`", StringComparison.Ordinal)..readme.IndexOf("## The dashboard", StringComparison.Ordinal)];
        int checkedRows = 0;
        foreach (var transform in new[] { "translation", "rotation" })
        {
            var table = section[section.IndexOf($"*{transform}, the 11 models", StringComparison.Ordinal)..];
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
