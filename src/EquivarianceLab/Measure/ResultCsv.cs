using System.Globalization;
using System.Text;

namespace EquivarianceLab.Measure;

/// <summary>
/// The CSV form of a result: one row per layer and transform, with <c>transform = mean</c> for the layer's score
/// (the mean over the family), then one row per part with <c>layer = part:&lt;Name&gt;</c>. Empty cells where no
/// non-degenerate pair existed.
/// </summary>
public static class ResultCsv
{
    public const string Header = "layer,index,part,shape,transform,invariance,equivariance";

    public static string Write(MeasurementResult result)
    {
        var sb = new StringBuilder().Append(Header).Append('\n');
        foreach (var layer in result.Layers)
        {
            var shape = string.Join("x", layer.Shape);
            Row(sb, layer.Name, layer.Index.ToString(CultureInfo.InvariantCulture), layer.Part, shape, "mean", layer.Invariance, layer.Equivariance);
            foreach (var (key, score) in layer.PerTransform)
                Row(sb, layer.Name, layer.Index.ToString(CultureInfo.InvariantCulture), layer.Part, shape, key, score.Invariance, score.Equivariance);
        }
        foreach (var (part, score) in result.Parts)
            Row(sb, $"part:{part}", "", part, "", "mean", score.Invariance, score.Equivariance);
        return sb.ToString();
    }

    private static void Row(StringBuilder sb, string layer, string index, string? part, string shape, string transform, double? inv, double? eqv) =>
        sb.Append(Escape(layer)).Append(',').Append(index).Append(',').Append(part).Append(',').Append(shape).Append(',')
          .Append(transform).Append(',').Append(Number(inv)).Append(',').Append(Number(eqv)).Append('\n');

    private static string Number(double? v) => v?.ToString("R", CultureInfo.InvariantCulture) ?? "";

    private static string Escape(string s) =>
        s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;
}
