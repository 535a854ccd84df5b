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
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"part",-8} {"layers",6} {"invariance",17} {"equivariance",17}");
        foreach (var part in Parts.All)
        {
            if (!result.Parts.TryGetValue(part, out var s)) continue;
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"{part,-8} {s.Layers,6} {Cell(s.Invariance, s.InvarianceInterval),17} {Cell(s.Equivariance, s.EquivarianceInterval),17}");
        }
        sb.AppendLine("± is the half-width of the 95% interval over probe images.");
        return sb.ToString();
    }

    public static string FormatLayers(MeasurementResult result)
    {
        int width = Math.Max(5, result.Layers.Count == 0 ? 0 : result.Layers.Max(l => l.Name.Length));
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{"#",3} {"layer".PadRight(width)} {"part",-7} {"shape",-14} {"invariance",17} {"equivariance",17} {"own c′",7} {"distinct",8}");
        foreach (var l in result.Layers)
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"{l.Index,3} {l.Name.PadRight(width)} {l.Part ?? "-",-7} {string.Join("x", l.Shape),-14} " +
                $"{Cell(l.Invariance, l.InvarianceInterval),17} {Cell(l.Equivariance, l.EquivarianceInterval),17} " +
                $"{Share(l.Matching?.Values.Select(m => m.OwnIndexShare)),7} {Share(l.Matching?.Values.Select(m => m.DistinctShare)),8}");
        if (result.Layers.Any(l => l.Matching is not null))
            sb.AppendLine("own c′: share of channels matched to their own index; distinct: share of distinct matches (1 = a permutation); means over the transforms.");
        return sb.ToString();
    }

    /// <summary>The mean of the transforms' shares, "-" when the layer has none.</summary>
    private static string Share(IEnumerable<double?>? shares) =>
        shares?.Where(v => v.HasValue).Select(v => v!.Value).ToList() is { Count: > 0 } present
            ? present.Average().ToString("0.00", CultureInfo.InvariantCulture)
            : "-";

    /// <summary>"0.6213 ± 0.0104": the score and its 95% interval's half-width (none when the run had one image).</summary>
    private static string Cell(double? v, Interval? interval)
    {
        if (v is not { } value) return "n/a";
        var score = value.ToString("0.0000", CultureInfo.InvariantCulture);
        return interval is { } i ? $"{score} ± {i.HalfWidthAround(value).ToString("0.0000", CultureInfo.InvariantCulture)}" : score;
    }
}
