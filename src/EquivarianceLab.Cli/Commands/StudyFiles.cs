using EquivarianceLab.Studies;

namespace EquivarianceLab.Cli.Commands;

/// <summary>
/// The files <c>eqlab study NAME --out DIR</c> writes (docs/studies.md, "Outputs"): per model <c>NAME.json</c> and
/// <c>NAME.csv</c>, per setting <c>NAME-summary.json</c>, <c>NAME-summary.csv</c> and the table as Markdown
/// <c>NAME.md</c>, and for a study that correlates with accuracy <c>NAME-spearman.*</c> (every model a point) and
/// <c>NAME-spearman-means.*</c> (every setting's mean a point).
/// </summary>
internal sealed class StudyFiles(string folder, StudyDefinition definition)
{
    public string Json { get; } = Path.Combine(folder, definition.Name + ".json");
    public string Csv { get; } = Path.Combine(folder, definition.Name + ".csv");
    public string SummaryJson { get; } = Path.Combine(folder, definition.Name + "-summary.json");
    public string SummaryCsv { get; } = Path.Combine(folder, definition.Name + "-summary.csv");
    public string Markdown { get; } = Path.Combine(folder, definition.Name + ".md");

    /// <summary>Every per-model and per-setting file <see cref="WriteEntries"/> writes.</summary>
    public IReadOnlyList<string> EntryFiles => [Json, Csv, SummaryJson, SummaryCsv, Markdown];

    /// <summary>The per-model files and the per-setting summary of <paramref name="entries"/>; returns the summary.</summary>
    public IReadOnlyList<SettingSummary> WriteEntries(IReadOnlyList<StudyEntry> entries)
    {
        var summary = StudySummary.Compute(entries);
        Write(Json, StudyOutput.Json(entries));
        Write(Csv, StudyOutput.Csv(entries));
        Write(SummaryJson, StudyOutput.SummaryJson(summary));
        Write(SummaryCsv, StudyOutput.SummaryCsv(summary));
        Write(Markdown, StudyOutput.MarkdownTable(definition, summary));
        return summary;
    }

    /// <summary>The correlations over every model and over the settings' means; returns the paths written.</summary>
    public IReadOnlyList<string> WriteCorrelations(IReadOnlyList<AccuracyCorrelationRow> models, IReadOnlyList<AccuracyCorrelationRow> means)
    {
        var written = new List<string>();
        foreach (var (suffix, rows) in new[] { ("-spearman", models), ("-spearman-means", means) })
        {
            var json = Path.Combine(folder, definition.Name + suffix + ".json");
            var csv = Path.Combine(folder, definition.Name + suffix + ".csv");
            Write(json, StudyOutput.CorrelationJson(rows));
            Write(csv, StudyOutput.CorrelationCsv(rows));
            written.Add(json);
            written.Add(csv);
        }
        return written;
    }

    /// <summary>Writes through a temporary file so a reader never sees half a file.</summary>
    private static void Write(string path, string text)
    {
        var temp = path + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, path, overwrite: true);
    }
}
