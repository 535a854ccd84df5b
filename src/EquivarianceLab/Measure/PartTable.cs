using System.Globalization;
using System.Text;

namespace EquivarianceLab.Measure;

/// <summary>The plain-text tables the command line prints.</summary>
public static class PartTable
{
    public static string Format(MeasurementResult result)
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture,
            $"{result.Model} · {result.Probe} · {result.Transform} · {result.Similarity} · {result.Images} images");
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"part",-8} {"layers",6} {"invariance",11} {"equivariance",13}");
        foreach (var part in Parts.All)
        {
            if (!result.Parts.TryGetValue(part, out var s)) continue;
            sb.AppendLine(CultureInfo.InvariantCulture, $"{part,-8} {s.Layers,6} {Cell(s.Invariance),11} {Cell(s.Equivariance),13}");
        }
        return sb.ToString();
    }

    public static string FormatLayers(MeasurementResult result)
    {
        int width = Math.Max(5, result.Layers.Count == 0 ? 0 : result.Layers.Max(l => l.Name.Length));
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"#",3} {"layer".PadRight(width)} {"part",-7} {"shape",-14} {"invariance",11} {"equivariance",13}");
        foreach (var l in result.Layers)
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"{l.Index,3} {l.Name.PadRight(width)} {l.Part ?? "-",-7} {string.Join("x", l.Shape),-14} {Cell(l.Invariance),11} {Cell(l.Equivariance),13}");
        return sb.ToString();
    }

    private static string Cell(double? v) => v?.ToString("0.0000", CultureInfo.InvariantCulture) ?? "n/a";
}
