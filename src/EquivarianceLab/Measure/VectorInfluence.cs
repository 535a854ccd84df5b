using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace EquivarianceLab.Measure;

/// <summary>
/// Each image's influence on a vector layer's score, where every channel's similarity is a correlation (pearson) or
/// cosine over the N images (docs/measure.md, "Uncertainty").
/// </summary>
public static class VectorInfluence
{
    /// <summary>
    /// For unit vectors <c>a, b: [C, N]</c>, channel-major (as <see cref="SimilarityKernel.NormalizeRows"/> makes them),
    /// with their validity per channel. With image weights
    /// w, S(x, y) = Σ w x y / √(Σ w x² · Σ w y²) on the centred (pearson) or raw (cosine) values; at w = 1 its
    /// derivative for image n is a_n·b_n − S/2·(a_n² + b_n²) (centring adds nothing, as the centred values sum to 0).
    /// The equivariance holds each channel's best partner c′ (<paramref name="partner"/>[c], as the score chose it; −1
    /// where the channel has none) fixed. The layer's influence is the mean over the channels its score averages.
    /// </summary>
    public static ImageInfluence Of(ReadOnlySpan<float> unitA, bool[] validA, ReadOnlySpan<float> unitB, bool[] validB, int[] partner)
    {
        // A few passes over C × N values, read where they are: plain loops in double beat a dozen small tensor
        // operations, and copies would grow with N.
        int channels = validA.Length;
        if (validB.Length != channels || partner.Length < channels || unitA.Length != unitB.Length || channels == 0 || unitA.Length % channels != 0)
            throw new ArgumentException($"Vectors of {unitA.Length} and {unitB.Length} values do not match {channels} and {validB.Length} channels.");
        int n = unitA.Length / channels;
        bool anyB = validB.Any(v => v);
        var invariance = Influence(unitA, unitB, channels, n, validA, validB, null, anyB);
        var equivariance = Influence(unitA, unitB, channels, n, validA, validB, partner, anyB);
        return new ImageInfluence(invariance, equivariance);
    }

    /// <summary>
    /// Mean over the channels c with a partner of each image's a_n·b_n − S/2·(a_n² + b_n²), where b is the partner's
    /// vector (c itself for the invariance, <paramref name="best"/>[c] for the equivariance) and S = Σ a·b; null when no
    /// channel has one.
    /// </summary>
    // Optimised from the first call, as are Dot and AddTerms: a measurement calls them once per channel and transform at
    // its very end, and at tier 0 (no inlining, Vector256 through calls) they took a few tenths of a second of a
    // 512-image ResNet-18 run before tiered compilation caught up.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double[]? Influence(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int channels, int n,
        bool[] validA, bool[] validB, int[]? best, bool anyB)
    {
        var z = new double[n];
        int counted = 0;
        for (int c = 0; c < channels; c++)
        {
            bool paired = best is null ? validA[c] && validB[c] : validA[c] && anyB;
            if (!paired) continue;
            int p = best is null ? c : best[c];
            counted++;
            var x = a.Slice(c * n, n);
            var y = b.Slice(p * n, n);
            AddTerms(z, x, y, Dot(x, y) / 2);
        }
        if (counted == 0) return null;
        for (int i = 0; i < n; i++) z[i] /= counted;
        return z;
    }

    /// <summary>Σ x·y in double, eight images a step in two four-lane vectors (the logits: C = 1,000 of these per transform).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double Dot(ReadOnlySpan<float> x, ReadOnlySpan<float> y)
    {
        int i = 0, n = x.Length;
        var sum = Vector256<double>.Zero;
        for (; i + 8 <= n; i += 8)
        {
            var (x0, x1) = Vector256.Widen(Vector256.Create(x.Slice(i, 8)));
            var (y0, y1) = Vector256.Widen(Vector256.Create(y.Slice(i, 8)));
            sum += x0 * y0 + x1 * y1;
        }
        double s = Vector256.Sum(sum);
        for (; i < n; i++) s += (double)x[i] * y[i];
        return s;
    }

    /// <summary>z[i] += x_i·y_i − half·(x_i² + y_i²), in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddTerms(Span<double> z, ReadOnlySpan<float> x, ReadOnlySpan<float> y, double half)
    {
        int i = 0, n = x.Length;
        var h = Vector256.Create(half);
        for (; i + 8 <= n; i += 8)
        {
            // Eight images a step as in Dot; each z[i] is its own sum, so the grouping does not change it.
            var (x0, x1) = Vector256.Widen(Vector256.Create(x.Slice(i, 8)));
            var (y0, y1) = Vector256.Widen(Vector256.Create(y.Slice(i, 8)));
            (Vector256.Create(z.Slice(i, 4)) + x0 * y0 - h * (x0 * x0 + y0 * y0)).CopyTo(z.Slice(i, 4));
            (Vector256.Create(z.Slice(i + 4, 4)) + x1 * y1 - h * (x1 * x1 + y1 * y1)).CopyTo(z.Slice(i + 4, 4));
        }
        for (; i < n; i++)
        {
            double xi = x[i], yi = y[i];
            z[i] += xi * yi - half * (xi * xi + yi * yi);
        }
    }
}
