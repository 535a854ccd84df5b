using EquivarianceLab.Studies;

namespace EquivarianceLab.Tests.Studies;

/// <summary>
/// The README's study tables are the Markdown tables the code makes from the committed per-model results in
/// <c>studies/NAME.json</c> (the same <c>NAME.md</c> that <c>eqlab study</c> writes), so a table cannot be typed wrong,
/// go stale when a study is re-run, or lose the spread when seeds are added.
/// </summary>
public class CommittedStudyTablesTests
{
    private static readonly string Root = FeatureModels.RepositoryPaths.Root
        ?? throw new InvalidOperationException("The repository root was not found above " + AppContext.BaseDirectory);

    [Theory]
    [InlineData("controls", true)]
    [InlineData("task-symmetry", true)]
    [InlineData("augmentation", true)]
    [InlineData("capacity", true)]
    [InlineData("architecture", true)]
    [InlineData("accuracy", false)] // the README shows its correlations (CommittedAccuracyStudyTests), not this table
    public void The_summary_files_and_the_readme_table_are_the_ones_made_from_the_committed_results(string name, bool inReadme)
    {
        var entries = StudyOutput.ReadJson(File.ReadAllText(Path.Combine(Root, "studies", name + ".json")));
        Assert.NotEmpty(entries);
        var summary = StudySummary.Compute(entries);
        var markdown = StudyOutput.MarkdownTable(StudyCatalog.Get(name), summary);
        // The summary files beside the per-model results are what the code makes of them.
        Assert.Equal(markdown, File.ReadAllText(Path.Combine(Root, "studies", name + ".md")));
        Assert.Equal(StudyOutput.SummaryJson(summary), File.ReadAllText(Path.Combine(Root, "studies", name + "-summary.json")));
        Assert.Equal(StudyOutput.SummaryCsv(summary), File.ReadAllText(Path.Combine(Root, "studies", name + "-summary.csv")));
        // Every trained setting has its three seeds (the controls are built in code, one each).
        Assert.All(summary, s => Assert.Equal(s.Accuracy.N == 0 ? 1 : 3, s.N));
        // Every model of the file is in a row of the table.
        Assert.All(entries, e => Assert.Contains($"| `{e.SettingName}` |", markdown));

        if (!inReadme) return;
        var readme = File.ReadAllText(Path.Combine(Root, "README.md")).ReplaceLineEndings("\n");
        var start = readme.IndexOf($"### `{name}`", StringComparison.Ordinal);
        Assert.True(start >= 0, $"README has no section for the {name} study.");
        var end = readme.IndexOf("\n### ", start + 1, StringComparison.Ordinal);
        var section = readme[start..(end < 0 ? readme.Length : end)];
        Assert.Contains(markdown, section);
    }
}
