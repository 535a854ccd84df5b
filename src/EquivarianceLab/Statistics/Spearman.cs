using MathNet.Numerics.Distributions;

namespace EquivarianceLab.Statistics;

/// <summary>
/// Spearman's rank correlation. <see cref="Rho"/> and <see cref="PValue"/> are null when no correlation can be
/// computed, with <see cref="Reason"/> saying why. <see cref="N"/> is the number of pairs used.
/// </summary>
public sealed record SpearmanResult(double? Rho, int N, double? PValue, string? Reason)
{
    /// <summary>True when the p-value was found by enumerating every permutation (n ≤ <see cref="Spearman.ExactMaxN"/>).</summary>
    public bool IsExact => Rho is not null && N <= Spearman.ExactMaxN;
}

/// <summary>Spearman's ρ with a two-sided p-value (docs/measure.md, "Accuracy correlation (Spearman)").</summary>
public static class Spearman
{
    /// <summary>Up to this many pairs the p-value is exact (all n! permutations, 3.6 M for n = 10); above it, Student's t.</summary>
    public const int ExactMaxN = 10;

    /// <summary>
    /// ρ is the Pearson correlation of the ranks (ties get average ranks). The p-value is two-sided: for n ≤ 10 the
    /// share of all n! permutations of y's ranks whose |ρ| reaches the observed |ρ| (less 1e-12, so that ρ equal to the
    /// observed one but for rounding counts); with ties that is the permutation distribution of the tie-corrected ρ; otherwise from
    /// t = ρ√((n−2)/(1−ρ²)) with n−2 degrees of freedom (p = 0 when |ρ| = 1). Pairs where either value is NaN are
    /// dropped first. Fewer than 3 pairs, or a constant column, give no ρ.
    /// </summary>
    public static SpearmanResult Compute(IReadOnlyList<double> x, IReadOnlyList<double> y, string xName = "x", string yName = "y")
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count)
            throw new ArgumentException($"x has {x.Count} values but y has {y.Count}.", nameof(y));
        var xs = new List<double>(x.Count);
        var ys = new List<double>(y.Count);
        for (int i = 0; i < x.Count; i++)
        {
            if (double.IsNaN(x[i]) || double.IsNaN(y[i])) continue;
            xs.Add(x[i]);
            ys.Add(y[i]);
        }
        int n = xs.Count;
        if (n < 3)
            return new SpearmanResult(null, n, null, $"Spearman's ρ needs at least 3 pairs; there {(n == 1 ? "is" : "are")} {n}.");
        if (xs.All(v => v == xs[0]))
            return new SpearmanResult(null, n, null, $"{Capitalise(xName)} is the same ({xs[0]}) for all {n} pairs, so it has no ranking.");
        if (ys.All(v => v == ys[0]))
            return new SpearmanResult(null, n, null, $"{Capitalise(yName)} is the same ({ys[0]}) for all {n} pairs, so it has no ranking.");

        var rx = Ranks(xs);
        var ry = Ranks(ys);
        double rho = Math.Clamp(Pearson(rx, ry), -1, 1);
        double p = n <= ExactMaxN ? ExactPValue(rx, ry, rho) : TPValue(rho, n);
        return new SpearmanResult(rho, n, p, null);
    }

    /// <summary>ρ of pairs already free of NaN; null when either side is constant (the bootstrap's resamples).</summary>
    internal static double? Rho(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        if (x.All(v => v == x[0]) || y.All(v => v == y[0])) return null;
        return Math.Clamp(Pearson(Ranks(x), Ranks(y)), -1, 1);
    }

    /// <summary>Average ranks, 1-based: tied values share the mean of the ranks they span.</summary>
    public static double[] Ranks(IReadOnlyList<double> values)
    {
        int n = values.Count;
        var order = Enumerable.Range(0, n).ToArray();
        Array.Sort(order, (a, b) => values[a].CompareTo(values[b]));
        var ranks = new double[n];
        for (int i = 0; i < n;)
        {
            int j = i;
            while (j + 1 < n && values[order[j + 1]] == values[order[i]]) j++;
            double rank = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) ranks[order[k]] = rank;
            i = j + 1;
        }
        return ranks;
    }

    /// <summary>Two-sided p-value of the t approximation: t = ρ√((n−2)/(1−ρ²)), Student's t with n−2 degrees of freedom.</summary>
    public static double TPValue(double rho, int n)
    {
        if (n < 3) throw new ArgumentOutOfRangeException(nameof(n), "The t approximation needs n ≥ 3.");
        if (Math.Abs(rho) >= 1) return 0;
        int df = n - 2;
        double t = Math.Abs(rho) * Math.Sqrt(df / ((1 - rho) * (1 + rho)));
        // 2·P(T ≤ −|t|) keeps precision for tiny p-values, where 1 − CDF(|t|) would cancel.
        return Math.Min(1, 2 * StudentT.CDF(location: 0, scale: 1, freedom: df, x: -t));
    }

    private static double Pearson(double[] a, double[] b)
    {
        double ma = a.Average(), mb = b.Average();
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double da = a[i] - ma, db = b[i] - mb;
            sab += da * db;
            saa += da * da;
            sbb += db * db;
        }
        return sab / Math.Sqrt(saa * sbb);
    }

    /// <summary>
    /// Counts, over all n! orderings of y's ranks, those at least as extreme as observed. Heap's algorithm reaches each
    /// ordering from the previous one by one swap, so Σ dx·dy is updated in O(1): swapping dy[a] and dy[b] changes it by
    /// (dx[a] − dx[b])·(dy[b] − dy[a]). Average ranks and their mean (n+1)/2 are multiples of ½, so every centred rank,
    /// product and sum here is exact in a double: 3.6 M updates do not drift. The tie-corrected denominator is the same
    /// for every ordering.
    /// </summary>
    private static double ExactPValue(double[] rx, double[] ry, double rho)
    {
        int n = rx.Length;
        double mx = rx.Average(), my = ry.Average();
        var dx = rx.Select(v => v - mx).ToArray();
        var dy = ry.Select(v => v - my).ToArray();
        double denominator = Math.Sqrt(dx.Sum(v => v * v) * dy.Sum(v => v * v));
        // Compare sums, not ratios: |s| ≥ (|ρ| − 1e-12)·denominator.
        double threshold = (Math.Abs(rho) - 1e-12) * denominator;

        double s = 0;
        for (int k = 0; k < n; k++) s += dx[k] * dy[k];
        long extreme = Math.Abs(s) >= threshold ? 1 : 0, total = 1;
        var c = new int[n];
        for (int i = 1; i < n;)
        {
            if (c[i] < i)
            {
                int a = i % 2 == 0 ? 0 : c[i];
                s += (dx[a] - dx[i]) * (dy[i] - dy[a]);
                (dy[a], dy[i]) = (dy[i], dy[a]);
                total++;
                if (Math.Abs(s) >= threshold) extreme++;
                c[i]++;
                i = 1;
            }
            else
            {
                c[i] = 0;
                i++;
            }
        }
        return (double)extreme / total;
    }

    private static string Capitalise(string s) => s.Length > 0 ? char.ToUpperInvariant(s[0]) + s[1..] : s;
}
