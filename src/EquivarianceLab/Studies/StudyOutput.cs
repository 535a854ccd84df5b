using EquivarianceLab.Reports;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EquivarianceLab.Measure;

namespace EquivarianceLab.Studies;

/// <summary>
/// The files and tables of a study: <c>NAME.json</c> and <c>NAME.csv</c> per model, <c>NAME-summary.json</c> and
/// <c>NAME-summary.csv</c> and the paper-style table per setting (StudyOutput.Summary.cs), and for §4.2 the correlations.
/// </summary>
public static partial class StudyOutput
{
    public const string CsvHeader = "modelId,label,setting,seed,accuracy,accuracyDataset,transform,maxShift,similarity,images,probe,part,layers,invariance,equivariance";
    public const string CorrelationCsvHeader = "group,testSet,probe,transform,maxShift,similarity,images,part,measure,rho,n,p,exact,low,high,resamples,skipped,reason,models";

    /// <summary>
    /// A JSON array of result.json objects, each with <c>modelId</c>, <c>label</c>, <c>setting</c>, <c>seed</c>,
    /// <c>displayName</c>, <c>accuracy</c> and <c>accuracyDataset</c> in front.
    /// </summary>
    public static string Json(IEnumerable<StudyEntry> entries)
    {
        var array = new JsonArray();
        foreach (var e in entries)
        {
            var o = new JsonObject
            {
                ["modelId"] = e.ModelId,
                ["label"] = e.Label,
                ["setting"] = e.SettingName,
                ["seed"] = e.Seed,
                ["displayName"] = e.DisplayName,
                ["accuracy"] = e.Accuracy,
                ["accuracyDataset"] = e.AccuracyDataset,
            };
            var result = JsonSerializer.SerializeToNode(e.Result, MeasurementResult.JsonOptions)!.AsObject();
            foreach (var (key, value) in result.ToList())
            {
                result.Remove(key);
                o[key] = value;
            }
            array.Add(o);
        }
        return array.ToJsonString(MeasurementResult.JsonOptions);
    }

    /// <summary>Reads <see cref="Json"/> back (a file without <c>setting</c>, from before seeds, reads as one setting per model).</summary>
    public static IReadOnlyList<StudyEntry> ReadJson(string json)
    {
        var list = new List<StudyEntry>();
        foreach (var node in JsonNode.Parse(json)?.AsArray() ?? throw new InvalidDataException("Empty study JSON."))
        {
            var o = node?.AsObject() ?? throw new InvalidDataException("A study JSON element is null.");
            list.Add(new StudyEntry
            {
                ModelId = (string?)o["modelId"] ?? throw new InvalidDataException("A study JSON element has no modelId."),
                Label = (string?)o["label"] ?? "",
                Setting = (string?)o["setting"],
                Seed = (int?)o["seed"],
                DisplayName = (string?)o["displayName"],
                Accuracy = (double?)o["accuracy"],
                AccuracyDataset = (string?)o["accuracyDataset"],
                Result = MeasurementResult.FromJson(o.ToJsonString()),
            });
        }
        return list;
    }

    /// <summary>One row per model × transform family × part present (a missing part has no row); <c>maxShift</c> only for translation.</summary>
    public static string Csv(IEnumerable<StudyEntry> entries)
    {
        var csv = new CsvWriter(CsvHeader);
        foreach (var e in entries)
        {
            var r = e.Result;
            foreach (var part in Parts.All)
            {
                if (!r.Parts.TryGetValue(part, out var s)) continue;
                csv.Row(CsvWriter.Text(e.ModelId), CsvWriter.Text(e.Label), CsvWriter.Text(e.SettingName), CsvWriter.Int(e.Seed),
                    CsvWriter.Number(e.Accuracy), CsvWriter.Text(e.AccuracyDataset), CsvWriter.Text(r.Transform),
                    r.Transform == "translation" ? Int(r.MaxShift) : "", CsvWriter.Text(r.Similarity), Int(r.Images), CsvWriter.Text(r.Probe), CsvWriter.Text(part), Int(s.Layers),
                    CsvWriter.Number(s.Invariance), CsvWriter.Number(s.Equivariance));
            }
        }
        return csv.ToString();
    }

    public static string CorrelationJson(IEnumerable<AccuracyCorrelationRow> rows) =>
        JsonSerializer.Serialize(rows, MeasurementResult.JsonOptions);

    public static string CorrelationCsv(IEnumerable<AccuracyCorrelationRow> rows)
    {
        var csv = new CsvWriter(CorrelationCsvHeader);
        foreach (var r in rows)
            csv.Row(CsvWriter.Text(r.Group), CsvWriter.Text(r.TestSet), CsvWriter.Text(r.Probe), CsvWriter.Text(r.Transform), Int(r.MaxShift),
                CsvWriter.Text(r.Similarity), Int(r.Images), CsvWriter.Text(r.Part), CsvWriter.Text(r.Measure), CsvWriter.Number(r.Rho), Int(r.N),
                CsvWriter.Number(r.P), r.Rho is null ? "" : r.Exact ? "true" : "false", CsvWriter.Number(r.Low), CsvWriter.Number(r.High),
                r.Resamples is int b ? Int(b) : "", r.Skipped is int k ? Int(k) : "", CsvWriter.Text(r.Reason), CsvWriter.Text(string.Join(' ', r.Models)));
        return csv.ToString();
    }

    /// <summary>
    /// The §4.2 tables: per comparable group, ρ, p, n and the 95% interval for each part, invariance and equivariance side
    /// by side. <paramref name="overSettingMeans"/>: the rows are <see cref="AccuracyCorrelation.ComputeOverSettingMeans"/>'s,
    /// and the headings say that each point is a setting's mean.
    /// </summary>
    public static string CorrelationTable(IReadOnlyList<AccuracyCorrelationRow> rows, bool overSettingMeans = false)
    {
        var unit = overSettingMeans ? "settings" : "models";
        var what = overSettingMeans ? "each setting's mean part score vs its mean card accuracy across its seeds" : "part score vs card accuracy, each model one point";
        var sb = new StringBuilder();
        foreach (var block in rows.GroupBy(r => r.Group))
        {
            var list = block.ToList();
            var first = list[0];
            var models = first.Models;
            var family = new StudyMeasurement(MeasureNames.ParseTransform(first.Transform), first.MaxShift).Describe();
            if (sb.Length > 0) sb.Append('\n');
            var count = overSettingMeans ? $"{models.Count} setting{(models.Count == 1 ? "" : "s")}" : $"{models.Count}";
            var heading = $"{family} · {first.Similarity} · {first.Images} images of {first.Probe} · accuracy on {first.TestSet} ({count}: {string.Join(", ", models)})";
            if (models.Count < 3)
            {
                // Such a group has no ρ in any part; one line says so instead of a table of dashes.
                sb.Append(CultureInfo.InvariantCulture, $"No Spearman's ρ · {heading}: it needs at least 3 {unit}.\n");
                continue;
            }
            sb.Append(CultureInfo.InvariantCulture, $"Spearman's ρ, {what} · {heading}\n");
            sb.Append(CultureInfo.InvariantCulture, $"{"",-8}   {"invariance",-38}   {"equivariance",-38}\n");
            sb.Append(CultureInfo.InvariantCulture, $"{"part",-8}   {"ρ",7} {"p",7} {"n",6} {"95% interval",-15}   {"ρ",7} {"p",7} {"n",6} {"95% interval",-15}\n");
            var notes = new List<string>();
            foreach (var part in Parts.All)
            {
                var inv = list.Single(r => r.Part == part && r.Measure == AccuracyCorrelation.Invariance);
                var eqv = list.Single(r => r.Part == part && r.Measure == AccuracyCorrelation.Equivariance);
                sb.Append($"{part,-8}   {Quadruple(inv)}   {Quadruple(eqv)}".TrimEnd()).Append('\n');
                if (inv.Reason is { } ri && ri == eqv.Reason) notes.Add($"{part}: {ri}");
                else
                {
                    if (inv.Reason is { } a) notes.Add($"{part} invariance: {a}");
                    if (eqv.Reason is { } b) notes.Add($"{part} equivariance: {b}");
                }
            }
            bool anyT = list.Any(r => r.Rho is not null && !r.Exact), anyExact = list.Any(r => r.Rho is not null && r.Exact);
            if (anyExact || anyT)
                sb.Append(anyT && anyExact ? "p: two-sided; exact (all n! orderings) where n ≤ 10, Student's t otherwise.\n"
                    : anyExact ? "p: two-sided, exact (all n! orderings).\n" : "p: two-sided, Student's t approximation.\n");
            if (list.FirstOrDefault(r => r.Resamples is not null) is { } boot)
                sb.Append(CultureInfo.InvariantCulture, $"95% interval: bootstrap percentiles over {boot.Resamples} resamples of the {unit} (seed {Statistics.SpearmanBootstrap.Seed}).\n");
            foreach (var note in notes) sb.Append("no ρ for ").Append(note).Append('\n');
        }
        return sb.ToString();
    }

    private static string Quadruple(AccuracyCorrelationRow r) => r.Rho is double rho
        ? string.Create(CultureInfo.InvariantCulture, $"{rho,7:0.000} {P(r.P),7} {r.N,6} {Interval(r),-15}")
        : string.Create(CultureInfo.InvariantCulture, $"{"–",7} {"",7} {r.N,6}");

    private static string Interval(AccuracyCorrelationRow r) => r.Low is double low && r.High is double high
        ? string.Create(CultureInfo.InvariantCulture, $"[{low:0.00}, {high:0.00}]")
        : "";

    private static string P(double? p) => p switch
    {
        null => "",
        < 0.001 => p.Value.ToString("0.0e0", CultureInfo.InvariantCulture),
        _ => p.Value.ToString("0.000", CultureInfo.InvariantCulture),
    };

    private static string Int(int v) => v.ToString(CultureInfo.InvariantCulture);
}
