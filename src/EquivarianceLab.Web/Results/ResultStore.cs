using System.Globalization;
using System.Text;
using EquivarianceLab.Measure;
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
            var row = new LayerScore
            {
                Index = layer.Index, Name = layer.Name, Part = layer.Part, Shape = CardJson.Shape(layer.Shape),
                Invariance = layer.Invariance, Equivariance = layer.Equivariance,
            };
            var order = 0;
            foreach (var (key, score) in OrderedTransforms(layer.PerTransform))
                row.PerTransform.Add(new TransformScore { Order = order++, Key = key, Invariance = score.Invariance, Equivariance = score.Equivariance });
            run.Layers.Add(row);
        }
        foreach (var (part, score) in result.Parts)
            run.Parts.Add(new PartScoreRow { Part = part, Invariance = score.Invariance, Equivariance = score.Equivariance, Layers = score.Layers });
    }

    /// <summary>rot90 &lt; rot180 &lt; rot270, shift1 &lt; shift2 &lt; … shift16: by the number in the key, not as text.</summary>
    public static IEnumerable<KeyValuePair<string, Score>> OrderedTransforms(IReadOnlyDictionary<string, Score> perTransform) =>
        perTransform.OrderBy(kv => TransformNumber(kv.Key)).ThenBy(kv => kv.Key, StringComparer.Ordinal);

    public static int TransformNumber(string key)
    {
        var digits = new string(key.Where(char.IsDigit).ToArray());
        return int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : 0;
    }

    /// <summary>
    /// One row per layer and transform, plus the layer mean (transform "mean") and the part means (layer = part name),
    /// so a spreadsheet can pivot any of the run page's charts.
    /// </summary>
    public static string ToCsv(Run run, MeasurementResult result)
    {
        var sb = new StringBuilder();
        sb.AppendLine("run,model,probe,transform_family,similarity,images,kind,index,layer,part,shape,transform,invariance,equivariance");
        var prefix = string.Join(',', run.Id.ToString(CultureInfo.InvariantCulture), Csv(result.Model), Csv(result.Probe), Csv(result.Transform),
            Csv(result.Similarity), result.Images.ToString(CultureInfo.InvariantCulture));
        foreach (var part in Parts.All)
        {
            if (!result.Parts.TryGetValue(part, out var s)) continue;
            sb.AppendLine($"{prefix},part,,{part},{part},,mean,{Num(s.Invariance)},{Num(s.Equivariance)}");
        }
        foreach (var layer in result.Layers)
        {
            var head = $"{prefix},layer,{layer.Index.ToString(CultureInfo.InvariantCulture)},{Csv(layer.Name)},{Csv(layer.Part ?? "")},{Csv(CardJson.Shape(layer.Shape))}";
            sb.AppendLine($"{head},mean,{Num(layer.Invariance)},{Num(layer.Equivariance)}");
            foreach (var (key, score) in OrderedTransforms(layer.PerTransform))
                sb.AppendLine($"{head},{Csv(key)},{Num(score.Invariance)},{Num(score.Equivariance)}");
        }
        return sb.ToString();
    }

    private static string Num(double? v) => v?.ToString("R", CultureInfo.InvariantCulture) ?? "";

    private static string Csv(string s) =>
        s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
}
