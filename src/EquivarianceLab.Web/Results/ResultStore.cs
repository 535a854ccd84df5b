using System.Globalization;
using System.Text;
using EquivarianceLab.Measure;
using EquivarianceLab.Reports;
using EquivarianceLab.Web.Data;

namespace EquivarianceLab.Web.Results;

/// <summary>Turns the engine's result into database rows (per part, layer and transform) and into CSV.</summary>
public static class ResultStore
{
    public static void Store(Run run, MeasurementResult result)
    {
        run.ResultJson = result.ToJson();
        run.Layers.Clear();
        run.Parts.Clear();
        foreach (var layer in result.Layers)
        {
            var row = WithUncertainty(new LayerScore
            {
                Index = layer.Index, Name = layer.Name, Part = layer.Part, Shape = CardJson.Shape(layer.Shape),
                Invariance = layer.Invariance, Equivariance = layer.Equivariance,
            }, layer);
            var order = 0;
            foreach (var (key, score) in OrderedTransforms(layer.PerTransform))
                row.PerTransform.Add(WithUncertainty(new TransformScore { Order = order++, Key = key, Invariance = score.Invariance, Equivariance = score.Equivariance }, score));
            run.Layers.Add(row);
        }
        foreach (var (part, score) in result.Parts)
            run.Parts.Add(WithUncertainty(new PartScoreRow { Part = part, Invariance = score.Invariance, Equivariance = score.Equivariance, Layers = score.Layers }, score));
    }

    private static T WithUncertainty<T>(T row, Uncertainty u) where T : IStoredUncertainty
    {
        row.InvarianceStderr = u.InvarianceStderr;
        row.InvarianceLow = u.InvarianceInterval?.Low;
        row.InvarianceHigh = u.InvarianceInterval?.High;
        row.EquivarianceStderr = u.EquivarianceStderr;
        row.EquivarianceLow = u.EquivarianceInterval?.Low;
        row.EquivarianceHigh = u.EquivarianceInterval?.High;
        return row;
    }

    /// <summary>
    /// rot15 &lt; rot22.5 &lt; rot90 &lt; rot180, shift0.5 &lt; shift1 &lt; … shift16: by the number in the key (a decimal
    /// for the continuous families), not as text.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, Score>> OrderedTransforms(IReadOnlyDictionary<string, Score> perTransform) =>
        perTransform.OrderBy(kv => TransformNumber(kv.Key)).ThenBy(kv => kv.Key, StringComparer.Ordinal);

    public static double TransformNumber(string key)
    {
        int start = 0;
        while (start < key.Length && !char.IsDigit(key[start]) && key[start] != '-') start++;
        return double.TryParse(key.AsSpan(start), NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : 0;
    }

    /// <summary>
    /// One row per layer and transform, plus the layer mean (transform "mean") and the part means (layer = part name),
    /// so a spreadsheet can pivot any of the run page's charts; each score with its standard error and 95% interval.
    /// </summary>
    public static string ToCsv(Run run, MeasurementResult result)
    {
        var csv = new CsvWriter("run,model,probe,transform_family,similarity,images,kind,index,layer,part,shape,transform,invariance,equivariance," +
            ResultCsv.UncertaintyColumns);
        string[] run6 = [CsvWriter.Int(run.Id), CsvWriter.Text(result.Model), CsvWriter.Text(result.Probe), CsvWriter.Text(result.Transform),
            CsvWriter.Text(result.Similarity), CsvWriter.Int(result.Images)];
        foreach (var part in Parts.All)
        {
            if (!result.Parts.TryGetValue(part, out var s)) continue;
            csv.Row([.. run6, "part", "", CsvWriter.Text(part), CsvWriter.Text(part), "", "mean", .. ResultCsv.ScoreCells(s.Invariance, s.Equivariance, s)]);
        }
        foreach (var layer in result.Layers)
        {
            string[] head = [.. run6, "layer", CsvWriter.Int(layer.Index), CsvWriter.Text(layer.Name), CsvWriter.Text(layer.Part), CsvWriter.Text(CardJson.Shape(layer.Shape))];
            csv.Row([.. head, "mean", .. ResultCsv.ScoreCells(layer.Invariance, layer.Equivariance, layer)]);
            foreach (var (key, score) in OrderedTransforms(layer.PerTransform))
                csv.Row([.. head, CsvWriter.Text(key), .. ResultCsv.ScoreCells(score.Invariance, score.Equivariance, score)]);
        }
        return csv.ToString();
    }
}
