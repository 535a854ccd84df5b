using EquivarianceLab.Measure;

namespace EquivarianceLab.Web.Results;

/// <summary>A part's scores as shown in tables and charts, with their 95% intervals over probe images (null: none).</summary>
public sealed record PartRow(string Part, double? Invariance, double? Equivariance, int Layers, Interval? InvarianceInterval, Interval? EquivarianceInterval);

/// <summary>Mean score per transform (e.g. per shift size) over a group of layers.</summary>
public sealed record TransformCurve(string Group, IReadOnlyList<string> Keys, IReadOnlyList<double?> Invariance, IReadOnlyList<double?> Equivariance);

/// <summary>A finished run with what the result views need.</summary>
public sealed record RunResult(int RunId, string ModelName, double? Accuracy, MeasurementResult Result)
{
    /// <summary>Series name: model name, plus the run id when one model appears twice.</summary>
    public string Label { get; init; } = ModelName;

    public string ModelId { get; init; } = "";
}

/// <summary>Pure functions from stored results to what the pages show (and the tests check).</summary>
public static class ResultViews
{
    public static IReadOnlyList<PartRow> PartRows(MeasurementResult r) =>
        Parts.All.Where(r.Parts.ContainsKey).Select(p =>
        {
            var s = r.Parts[p];
            return new PartRow(p, s.Invariance, s.Equivariance, s.Layers, s.InvarianceInterval, s.EquivarianceInterval);
        }).ToList();

    /// <summary>The parts present in any of the results, in the paper's order.</summary>
    public static IReadOnlyList<string> PartsIn(IEnumerable<MeasurementResult> results)
    {
        var present = results.SelectMany(r => r.Parts.Keys).ToHashSet();
        return Parts.All.Where(present.Contains).ToList();
    }

    /// <summary>Transform keys in reporting order (rot90…, shift1…shiftK, flip) across the result's layers.</summary>
    public static IReadOnlyList<string> TransformKeys(MeasurementResult r) =>
        r.Layers.SelectMany(l => l.PerTransform.Keys).Distinct().OrderBy(ResultStore.TransformNumber).ThenBy(k => k, StringComparer.Ordinal).ToList();

    /// <summary>Per part (and over all layers), the mean per-transform score of its layers; null where no layer had one.</summary>
    public static IReadOnlyList<TransformCurve> TransformCurves(MeasurementResult r)
    {
        var keys = TransformKeys(r);
        var groups = Parts.All.Where(p => r.Layers.Any(l => l.Part == p))
            .Select(p => (p, r.Layers.Where(l => l.Part == p).ToList()))
            .Append(("All layers", r.Layers.ToList()));
        return groups.Select(g => new TransformCurve(g.Item1, keys,
            keys.Select(k => Mean(g.Item2.Select(l => l.PerTransform.GetValueOrDefault(k)?.Invariance))).ToList(),
            keys.Select(k => Mean(g.Item2.Select(l => l.PerTransform.GetValueOrDefault(k)?.Equivariance))).ToList())).ToList();
    }

    /// <summary>Relative depth of each layer in [0, 1], so models with different layer counts share one axis.</summary>
    public static double Depth(int index, int count) => count <= 1 ? 0 : (double)index / (count - 1);

    /// <summary>Gives series unique names: a model measured twice shows its run ids.</summary>
    public static IReadOnlyList<RunResult> Labelled(IReadOnlyList<RunResult> runs)
    {
        var dupes = runs.GroupBy(r => r.ModelName).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet();
        return runs.Select(r => dupes.Contains(r.ModelName) ? r with { Label = $"{r.ModelName} (run {r.RunId})" } : r).ToList();
    }

    private static double? Mean(IEnumerable<double?> values)
    {
        double sum = 0; var n = 0;
        foreach (var v in values) if (v is { } x) { sum += x; n++; }
        return n == 0 ? null : sum / n;
    }
}
