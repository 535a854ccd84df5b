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
    [InlineData("controls")]
    [InlineData("task-symmetry")]
    [InlineData("augmentation")]
    [InlineData("capacity")]
    [InlineData("architecture")]
    public void The_readme_table_is_the_one_made_from_the_committed_results(string name)
    {
        var entries = StudyOutput.ReadJson(File.ReadAllText(Path.Combine(Root, "studies", name + ".json")));
        Assert.NotEmpty(entries);
        var summary = StudySummary.Compute(entries);
        var markdown = StudyOutput.MarkdownTable(StudyCatalog.Get(name), summary);
        // A study re-run since the seeds has its summary files beside it: they are what the code makes of the models.
        var md = Path.Combine(Root, "studies", name + ".md");
        if (File.Exists(md))
        {
            Assert.Equal(markdown, File.ReadAllText(md));
            Assert.Equal(StudyOutput.SummaryJson(summary), File.ReadAllText(Path.Combine(Root, "studies", name + "-summary.json")));
            Assert.Equal(StudyOutput.SummaryCsv(summary), File.ReadAllText(Path.Combine(Root, "studies", name + "-summary.csv")));
        }
        // Every model of the file is in a row of the table.
        Assert.All(entries, e => Assert.Contains($"| `{e.SettingName}` |", markdown));

        var readme = File.ReadAllText(Path.Combine(Root, "README.md")).ReplaceLineEndings("\n");
        var start = readme.IndexOf($"### `{name}`", StringComparison.Ordinal);
        Assert.True(start >= 0, $"README has no section for the {name} study.");
        var end = readme.IndexOf("\n### ", start + 1, StringComparison.Ordinal);
        var section = readme[start..(end < 0 ? readme.Length : end)];
        Assert.Contains(markdown, section);
    }
}
