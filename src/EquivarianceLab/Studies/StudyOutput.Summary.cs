using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using EquivarianceLab.Measure;
using EquivarianceLab.Reports;
using EquivarianceLab.Statistics;

namespace EquivarianceLab.Studies;

/// <summary>The per-setting outputs: <c>NAME-summary.json</c>, <c>NAME-summary.csv</c> and the paper-style table, each score as mean ± sd across seeds.</summary>
public static partial class StudyOutput
{
    public const string SummaryCsvHeader =
        "setting,label,n,seeds,accuracyDataset,transform,maxShift,similarity,images,probe,part," +
        "invarianceMean,invarianceSd,invarianceN,equivarianceMean,equivarianceSd,equivarianceN,accuracyMean,accuracySd,models";

    /// <summary>
    /// A JSON array of <see cref="SettingSummary"/> objects: <c>setting</c>, <c>label</c>, <c>n</c>, <c>seeds</c>,
    /// <c>models</c>, the measurement's settings, <c>accuracy</c> and per part <c>invariance</c>/<c>equivariance</c>,
    /// each <c>{ mean, sd, n }</c> (sd null below two values).
    /// </summary>
    public static string SummaryJson(IEnumerable<SettingSummary> settings)
    {
        var array = new JsonArray();
        foreach (var s in settings)
        {
            var parts = new JsonObject();
            foreach (var (part, spread) in s.Parts)
                parts[part] = new JsonObject { ["invariance"] = Node(spread.Invariance), ["equivariance"] = Node(spread.Equivariance) };
            array.Add(new JsonObject
            {
                ["setting"] = s.Setting,
                ["label"] = s.Label,
                ["n"] = s.N,
                ["seeds"] = new JsonArray([.. s.Seeds.Select(seed => (JsonNode?)seed)]),
                ["models"] = new JsonArray([.. s.Models.Select(m => (JsonNode?)m)]),
                ["accuracyDataset"] = s.AccuracyDataset,
                ["transform"] = s.Key.Transform,
                ["maxShift"] = s.Key.MaxShift,
                ["similarity"] = s.Key.Similarity,
                ["images"] = s.Key.Images,
                ["probe"] = s.Key.Probe,
                ["accuracy"] = Node(s.Accuracy),
                ["parts"] = parts,
            });
        }
        return array.ToJsonString(MeasurementResult.JsonOptions);

        static JsonObject Node(SampleSpread spread) => new() { ["mean"] = spread.Mean, ["sd"] = spread.Sd, ["n"] = spread.N };
    }

    /// <summary>
    /// One row per setting × transform family × part that at least one of its models has. <c>seeds</c> lists the seeds
    /// separated by spaces (<c>?</c> for a card without one), <c>models</c> the model ids; <c>maxShift</c> only for translation.
    /// </summary>
    public static string SummaryCsv(IEnumerable<SettingSummary> settings)
    {
        var csv = new CsvWriter(SummaryCsvHeader);
        foreach (var s in settings)
        {
            var seeds = string.Join(' ', s.Seeds.Select(seed => seed is int n ? Int(n) : "?"));
            foreach (var (part, spread) in s.Parts)
                csv.Row(CsvWriter.Text(s.Setting), CsvWriter.Text(s.Label), Int(s.N), CsvWriter.Text(seeds), CsvWriter.Text(s.AccuracyDataset),
                    CsvWriter.Text(s.Key.Transform), s.Key.Transform == "translation" ? Int(s.Key.MaxShift) : "", CsvWriter.Text(s.Key.Similarity),
                    Int(s.Key.Images), CsvWriter.Text(s.Key.Probe), CsvWriter.Text(part),
                    CsvWriter.Number(spread.Invariance.Mean), CsvWriter.Number(spread.Invariance.Sd), Int(spread.Invariance.N),
                    CsvWriter.Number(spread.Equivariance.Mean), CsvWriter.Number(spread.Equivariance.Sd), Int(spread.Equivariance.N),
                    CsvWriter.Number(s.Accuracy.Mean), CsvWriter.Number(s.Accuracy.Sd), CsvWriter.Text(string.Join(' ', s.Models)));
        }
        return csv.ToString();
    }

    /// <summary>The paper-style table of a study's per-model entries: <see cref="Table(StudyDefinition, IReadOnlyList{SettingSummary})"/> of their summary.</summary>
    public static string Table(StudyDefinition study, IReadOnlyList<StudyEntry> entries) => Table(study, StudySummary.Compute(entries));

    /// <summary>
    /// The paper-style table, one per transform family: rows = settings, with their number of seeds; columns = accuracy
    /// and Early/Middle/Late/Pool/Final × inv/eqv, each <c>mean ± sd</c> across the seeds (<c>—</c> for the sd of one seed),
    /// a blank where a setting has no such part.
    /// </summary>
    public static string Table(StudyDefinition study, IReadOnlyList<SettingSummary> settings)
    {
        var sb = new StringBuilder();
        foreach (var (m, rows) in TablesOf(study, settings))
        {
            if (sb.Length > 0) sb.Append('\n');
            var probes = string.Join(", ", rows.Select(s => s.Key.Probe).Distinct());
            var images = string.Join("/", rows.Select(s => s.Key.Images).Distinct().Select(Int));
            sb.Append(CultureInfo.InvariantCulture,
                $"{study.Name} ({study.Section}) · {m.Describe()} · {rows[0].Key.Similarity} · {images} images of {probes} · mean ± sd across seeds\n");

            int settingWidth = Math.Max(7, rows.Max(s => s.Setting.Length));
            int labelWidth = Math.Max(5, rows.Max(s => s.Label.Length));
            const int group = 2 * SpreadWidth + 1, gap = 3;
            var head1 = new StringBuilder().Append(' ', settingWidth + 2 + labelWidth + 2 + 5 + 2 + SpreadWidth);
            var head2 = new StringBuilder().Append("setting".PadRight(settingWidth)).Append("  ").Append("label".PadRight(labelWidth))
                .Append("  ").Append("seeds").Append("  ").Append(Heading("acc %"));
            foreach (var part in Parts.All)
            {
                head1.Append(' ', gap).Append(part.PadLeft((group + part.Length) / 2).PadRight(group));
                head2.Append(' ', gap).Append(Heading("inv")).Append(' ').Append(Heading("eqv"));
            }
            sb.Append(head1.ToString().TrimEnd()).Append('\n').Append(head2.ToString().TrimEnd()).Append('\n');
            foreach (var s in rows)
            {
                var line = new StringBuilder().Append(s.Setting.PadRight(settingWidth)).Append("  ").Append(s.Label.PadRight(labelWidth)).Append("  ")
                    .Append(Int(s.N).PadLeft(5)).Append("  ").Append(Spread(s.Accuracy, "0.00"));
                foreach (var part in Parts.All)
                {
                    var spread = s.Parts.GetValueOrDefault(part);
                    line.Append(' ', gap).Append(Spread(spread?.Invariance, "0.000")).Append(' ').Append(Spread(spread?.Equivariance, "0.000"));
                }
                sb.Append(line.ToString().TrimEnd()).Append('\n');
            }
        }
        return sb.ToString();
    }

    /// <summary>The study's transform families in its order, each with the settings measured with it; families without any are left out.</summary>
    private static List<(StudyMeasurement Measurement, List<SettingSummary> Rows)> TablesOf(StudyDefinition study, IReadOnlyList<SettingSummary> settings) =>
        study.Measurements
            .Select(m => (m, settings.Where(s => s.Key.Transform == m.TransformName && s.Key.MaxShift == m.MaxShift).ToList()))
            .Where(t => t.Item2.Count > 0)
            .ToList();

    // "mean ± sd": the mean right-aligned in 6 characters so that the means of a column line up whether or not an sd
    // follows; the sd left-aligned after it. A cell without a mean is blank.
    private const int MeanWidth = 6, SpreadWidth = MeanWidth + 3 + 5;

    /// <summary><c>0.812 ± 0.013</c>; <c>0.812 ± —</c> for one seed; blank without a value.</summary>
    private static string Spread(SampleSpread? spread, string format)
    {
        if (spread?.Mean is not double mean) return new string(' ', SpreadWidth);
        var sd = spread.Value.Sd?.ToString(format, CultureInfo.InvariantCulture) ?? "—";
        return (mean.ToString(format, CultureInfo.InvariantCulture).PadLeft(MeanWidth) + " ± " + sd).PadRight(SpreadWidth);
    }

    private static string Heading(string text) => text.PadLeft(MeanWidth).PadRight(SpreadWidth);
}
