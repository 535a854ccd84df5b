using EquivarianceLab.Measure;

namespace EquivarianceLab.Tests.Determinism;

/// <summary>Compares every score of two measurements: per layer and transform, per layer, per part.</summary>
public static class ScoreComparison
{
    public sealed record Difference(double Value, string Where)
    {
        public override string ToString() => $"largest difference {Value:G3} at {Where}";
    }

    /// <summary>The largest absolute difference between two results of the same layers; a null against a number, or a
    /// NaN, counts as infinite.</summary>
    public static Difference LargestDifference(MeasurementResult a, MeasurementResult b)
    {
        Assert.Equal(a.Layers.Select(l => l.Name), b.Layers.Select(l => l.Name));
        Assert.Equal(a.Parts.Keys.Order(), b.Parts.Keys.Order());
        var worst = new Difference(0, "nowhere");
        void Check(double? x, double? y, string where)
        {
            double gap = x is null && y is null ? 0
                : x is null || y is null || double.IsNaN(x.Value) || double.IsNaN(y.Value) ? double.PositiveInfinity
                : Math.Abs(x.Value - y.Value);
            if (gap > worst.Value) worst = new Difference(gap, $"{where} ({x} vs {y})");
        }
        for (var l = 0; l < a.Layers.Count; l++)
        {
            LayerResult x = a.Layers[l], y = b.Layers[l];
            Check(x.Invariance, y.Invariance, $"{x.Name} invariance");
            Check(x.Equivariance, y.Equivariance, $"{x.Name} equivariance");
            Assert.Equal(x.PerTransform.Keys.Order(), y.PerTransform.Keys.Order());
            foreach (var (g, s) in x.PerTransform)
            {
                Check(s.Invariance, y.PerTransform[g].Invariance, $"{x.Name} {g} invariance");
                Check(s.Equivariance, y.PerTransform[g].Equivariance, $"{x.Name} {g} equivariance");
            }
        }
        foreach (var (part, s) in a.Parts)
        {
            Check(s.Invariance, b.Parts[part].Invariance, $"{part} invariance");
            Check(s.Equivariance, b.Parts[part].Equivariance, $"{part} equivariance");
        }
        return worst;
    }
}
