using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Measure;

/// <summary>
/// An independent, deliberately naive implementation of the measure (docs/measure.md) for tests: features copied into double arrays,
/// transforms by index arithmetic, similarities by explicit loops over every channel pair. Shares no code with the
/// measure except the model's forward pass.
/// </summary>
public static class ReferenceMeasure
{
    public sealed record Result(Dictionary<string, Dictionary<string, (double? Inv, double? Eqv)>> PerLayer);

    public static Result Run(IFeatureModel model, float[] images, int n, int c, int h, int w, string family, int maxShift, bool pearson)
    {
        var keys = family switch
        {
            "rotation" => new[] { "rot90", "rot180", "rot270" },
            "translation" => Enumerable.Range(1, maxShift).Select(k => $"shift{k}").ToArray(),
            _ => new[] { "flip" },
        };
        var plain = Features(model, images, n, c, h, w);
        var result = new Dictionary<string, Dictionary<string, (double?, double?)>>();
        foreach (var name in model.Layers) result[name] = new();
        foreach (var key in keys)
        {
            var moved = new float[images.Length];
            for (int i = 0; i < n * c; i++)
            {
                var plane = Transform(images.AsSpan(i * h * w, h * w).ToArray(), h, w, key, h, w);
                for (int j = 0; j < plane.Length; j++) moved[i * h * w + j] = (float)plane[j];
            }
            var transformed = Features(model, moved, n, c, h, w);
            foreach (var name in model.Layers)
            {
                var (shapeA, a) = transformed[name];
                var (_, f) = plain[name];
                result[name][key] = shapeA.Length == 4
                    ? Spatial(a, f, shapeA, (plane, ph, pw) => Transform(plane, ph, pw, key, h, w), null, pearson)
                    : Vector(a, f, shapeA, pearson);
            }
        }
        return new Result(result);
    }

    /// <summary>Runs the model and turns each layer into [N,C,h,w] (tokens: drop prefix, grid row-major) or [N,C].</summary>
    internal static Dictionary<string, (long[] Shape, double[] Values)> Features(IFeatureModel model, float[] images, int n, int c, int h, int w)
    {
        using var scope = NewDisposeScope();
        var outputs = model.Forward(tensor(images, [n, c, h, w]));
        var map = new Dictionary<string, (long[], double[])>();
        for (int l = 0; l < model.Layers.Count; l++)
        {
            var t = outputs[l];
            var values = t.to_type(ScalarType.Float64).contiguous().data<double>().ToArray();
            var shape = t.shape;
            if (shape.Length == 4 && shape[2] * shape[3] == 1) shape = [shape[0], shape[1]];
            if (shape.Length == 3)
            {
                long tokens = shape[1], d = shape[2];
                int p = Enumerable.Range(0, 3).First(p => { var s = (long)Math.Sqrt(tokens - p); return s > 1 && s * s == tokens - p; });
                long side = (long)Math.Sqrt(tokens - p);
                var grid = new double[shape[0] * d * side * side];
                for (long i = 0; i < shape[0]; i++)
                    for (long ch = 0; ch < d; ch++)
                        for (long pos = 0; pos < side * side; pos++)
                            grid[(i * d + ch) * side * side + pos] = values[(i * tokens + p + pos) * d + ch];
                values = grid;
                shape = [shape[0], d, side, side];
            }
            map[model.Layers[l]] = (shape, values);
        }
        return map;
    }

    /// <summary>
    /// A = f(gX) against B = g·f(X), per image and channel, over the positions <paramref name="region"/> keeps (all
    /// when null); null with fewer than 2 positions. <paramref name="g"/> acts on one h×w plane.
    /// </summary>
    internal static (double?, double?) Spatial(double[] a, double[] f, long[] shape, Func<double[], int, int, double[]> g,
        Func<int, int, int[]>? region, bool pearson)
    {
        int n = (int)shape[0], c = (int)shape[1], h = (int)shape[2], w = (int)shape[3], len = h * w;
        var positions = region?.Invoke(h, w) ?? Enumerable.Range(0, len).ToArray();
        if (positions.Length < 2) return (null, null);
        double invSum = 0, eqSum = 0;
        long invCount = 0, eqCount = 0;
        for (int i = 0; i < n; i++)
        {
            var b = new double[c][];
            var av = new double[c][];
            for (int ch = 0; ch < c; ch++)
            {
                var moved = g(f.AsSpan((i * c + ch) * len, len).ToArray(), h, w);
                b[ch] = positions.Select(p => moved[p]).ToArray();
                av[ch] = positions.Select(p => a[(i * c + ch) * len + p]).ToArray();
            }
            Accumulate(av, b, pearson, ref invSum, ref invCount, ref eqSum, ref eqCount);
        }
        return (invCount > 0 ? invSum / invCount : null, eqCount > 0 ? eqSum / eqCount : null);
    }

    internal static (double?, double?) Vector(double[] a, double[] f, long[] shape, bool pearson)
    {
        int n = (int)shape[0], c = (int)shape[1];
        var av = new double[c][];
        var bv = new double[c][];
        for (int ch = 0; ch < c; ch++)
        {
            av[ch] = Enumerable.Range(0, n).Select(i => a[i * c + ch]).ToArray();
            bv[ch] = Enumerable.Range(0, n).Select(i => f[i * c + ch]).ToArray();
        }
        double invSum = 0, eqSum = 0;
        long invCount = 0, eqCount = 0;
        Accumulate(av, bv, pearson, ref invSum, ref invCount, ref eqSum, ref eqCount);
        return (invCount > 0 ? invSum / invCount : null, eqCount > 0 ? eqSum / eqCount : null);
    }

    private static void Accumulate(double[][] a, double[][] b, bool pearson, ref double invSum, ref long invCount, ref double eqSum, ref long eqCount)
    {
        int c = a.Length;
        for (int ch = 0; ch < c; ch++)
        {
            var sInv = S(a[ch], b[ch], pearson);
            if (sInv is { } inv) { invSum += inv; invCount++; }
            double? best = null;
            for (int other = 0; other < c; other++)
                if (S(a[ch], b[other], pearson) is { } s && (best is null || s > best)) best = s;
            if (best is { } e) { eqSum += e; eqCount++; }
        }
    }

    /// <summary>S(x, y) or null when either vector is degenerate.</summary>
    public static double? S(double[] x, double[] y, bool pearson)
    {
        double Norm(double[] v) => Math.Sqrt(v.Sum(t => t * t));
        double[] Centre(double[] v) { var m = v.Average(); return v.Select(t => t - m).ToArray(); }
        var cx = pearson ? Centre(x) : x;
        var cy = pearson ? Centre(y) : y;
        double rx = Norm(x), ry = Norm(y), nx = Norm(cx), ny = Norm(cy);
        if (rx == 0 || ry == 0 || nx <= 1e-6 * rx || ny <= 1e-6 * ry) return null;
        double dot = 0;
        for (int i = 0; i < x.Length; i++) dot += cx[i] * cy[i];
        return dot / (nx * ny);
    }

    /// <summary>g on one h×w plane of an inputH×inputW model input, by index arithmetic (numpy semantics).</summary>
    public static double[] Transform(double[] plane, int h, int w, string key, int inputH, int inputW)
    {
        var result = new double[plane.Length];
        if (key.StartsWith("rot", StringComparison.Ordinal))
        {
            int k = int.Parse(key[3..]) / 90;
            var cur = plane;
            for (int r = 0; r < k; r++)
            {
                var next = new double[cur.Length];
                // np.rot90 on a square n×n: out[i, j] = in[j, n-1-i]
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++)
                        next[i * w + j] = cur[j * w + (h - 1 - i)];
                cur = next;
            }
            return cur;
        }
        if (key.StartsWith("shift", StringComparison.Ordinal))
        {
            int k = int.Parse(key[5..]);
            int sy = (int)Math.Round((double)k * h / inputH, MidpointRounding.AwayFromZero);
            int sx = (int)Math.Round((double)k * w / inputW, MidpointRounding.AwayFromZero);
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                    result[i * w + j] = plane[((i - sy) % h + h) % h * w + ((j - sx) % w + w) % w];
            return result;
        }
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++)
                result[i * w + j] = plane[i * w + (w - 1 - j)];
        return result;
    }

    public static double[] Transform(float[] plane, int h, int w, string key, int inputH, int inputW) =>
        Transform(plane.Select(v => (double)v).ToArray(), h, w, key, inputH, inputW);
}
