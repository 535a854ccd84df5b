using System.Globalization;
using EquivarianceLab.FeatureModels;

namespace EquivarianceLab.Tests.Measure;

/// <summary>
/// The continuous families done naively, for tests (docs/measure.md, "Continuous transforms"): source points by
/// rotating Cartesian coordinates (y up), bilinear interpolation by explicit loops in double with zeros outside, the
/// valid region by testing each source point, and the similarities of <see cref="ReferenceMeasure"/>. Shares no code
/// with the measure's resampling.
/// </summary>
public static class ReferenceResampling
{
    /// <param name="family">rotation-continuous (amounts in degrees) or translation-continuous (input pixels).</param>
    public static ReferenceMeasure.Result Run(IFeatureModel model, float[] images, int n, int c, int h, int w, string family,
        double[] amounts, bool pearson)
    {
        var plain = ReferenceMeasure.Features(model, images, n, c, h, w);
        var result = model.Layers.ToDictionary(name => name, _ => new Dictionary<string, (double? Inv, double? Eqv)>());
        foreach (var amount in amounts)
        {
            var key = (family == "rotation-continuous" ? "rot" : "shift") + amount.ToString(CultureInfo.InvariantCulture);
            var moved = new float[images.Length];
            for (int p = 0; p < n * c; p++)
            {
                var plane = images.AsSpan(p * h * w, h * w).ToArray().Select(v => (double)v).ToArray();
                var turned = Resample(plane, h, w, family, amount, h, w);
                for (int q = 0; q < h * w; q++) moved[p * h * w + q] = (float)turned[q];
            }
            var transformed = ReferenceMeasure.Features(model, moved, n, c, h, w);
            foreach (var name in model.Layers)
            {
                var (shape, a) = transformed[name];
                var (_, f) = plain[name];
                result[name][key] = shape.Length == 4
                    ? ReferenceMeasure.Spatial(a, f, shape, (plane, ph, pw) => Resample(plane, ph, pw, family, amount, h, w),
                        (ph, pw) => Enumerable.Range(0, ph * pw).Where(p => Inside(Source(p / pw, p % pw, ph, pw, family, amount, h, w), ph, pw)).ToArray(),
                        pearson)
                    : ReferenceMeasure.Vector(a, f, shape, pearson);
            }
        }
        return new ReferenceMeasure.Result(result);
    }

    /// <summary>Where output (i, j) of an h×w grid reads from: (row, column).</summary>
    public static (double Row, double Column) Source(int i, int j, int h, int w, string family, double amount, int inputH, int inputW)
    {
        if (family == "translation-continuous") return (i - amount * h / inputH, j - amount * w / inputW);
        // Cartesian about the centre (u right, v up). The output shows the input turned counter-clockwise by θ, so
        // it reads the input at its own point turned clockwise: (u, v) → (u cos θ + v sin θ, −u sin θ + v cos θ).
        double cy = (h - 1) / 2.0, cx = (w - 1) / 2.0, theta = amount * Math.PI / 180;
        double u = j - cx, v = cy - i;
        double us = u * Math.Cos(theta) + v * Math.Sin(theta), vs = -u * Math.Sin(theta) + v * Math.Cos(theta);
        return (cy - vs, cx + us);
    }

    /// <summary>Inside the grid, up to rounding in the last digits.</summary>
    public static bool Inside((double Row, double Column) point, int h, int w) =>
        point.Row >= -1e-9 && point.Row <= h - 1 + 1e-9 && point.Column >= -1e-9 && point.Column <= w - 1 + 1e-9;

    public static double[] Resample(double[] plane, int h, int w, string family, double amount, int inputH, int inputW)
    {
        var result = new double[h * w];
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++)
            {
                var (r, c) = Source(i, j, h, w, family, amount, inputH, inputW);
                int r0 = (int)Math.Floor(r), c0 = (int)Math.Floor(c);
                double fr = r - r0, fc = c - c0;
                double At(int y, int x) => y >= 0 && y < h && x >= 0 && x < w ? plane[y * w + x] : 0;
                result[i * w + j] = (1 - fr) * (1 - fc) * At(r0, c0) + (1 - fr) * fc * At(r0, c0 + 1)
                                    + fr * (1 - fc) * At(r0 + 1, c0) + fr * fc * At(r0 + 1, c0 + 1);
            }
        return result;
    }

}
