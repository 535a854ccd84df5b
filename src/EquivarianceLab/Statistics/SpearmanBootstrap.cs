namespace EquivarianceLab.Statistics;

/// <summary>
/// A bootstrap 95% percentile interval for Spearman's ρ. <see cref="Resamples"/> is the number of resamples drawn;
/// <see cref="Skipped"/> of them had no ρ (one side constant) and are not in the percentiles.
/// </summary>
public sealed record SpearmanInterval(double Low, double High, int Resamples, int Skipped);

/// <summary>
/// Percentile bootstrap for ρ (docs/measure.md, "Accuracy correlation (Spearman)"): the n (x, y) pairs are resampled
/// with replacement, ρ (average ranks) is computed for each resample, and the 2.5th and 97.5th percentiles of those ρ
/// are the interval. The generator is seeded with a constant, so the same pairs always give the same interval —
/// the dashboard, its API and the README's study agree to the last digit.
/// </summary>
public static class SpearmanBootstrap
{
    public const int DefaultResamples = 10_000;

    /// <summary>The seed of every interval (<see cref="Random(int)"/>'s seeded sequence does not change between .NET versions).</summary>
    public const int Seed = 42;

    /// <summary>
    /// The interval over the pairs where neither value is NaN, in any order; null when fewer than 3 pairs remain, a side is constant,
    /// or no resample had a ρ. Percentiles interpolate linearly between order statistics (position p·(m − 1) of the m
    /// sorted ρ, numpy's default).
    /// </summary>
    public static SpearmanInterval? Interval(IReadOnlyList<double> x, IReadOnlyList<double> y, int resamples = DefaultResamples)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count) throw new ArgumentException($"x has {x.Count} values but y has {y.Count}.", nameof(y));
        ArgumentOutOfRangeException.ThrowIfLessThan(resamples, 1);
        // Sorted, so that the interval depends on the pairs only, not on the order the caller lists them in (the study
        // lists models in its slot order, the dashboard by run id).
        var pairs = Enumerable.Range(0, x.Count).Where(i => !double.IsNaN(x[i]) && !double.IsNaN(y[i])).Select(i => (X: x[i], Y: y[i]))
            .OrderBy(p => p.X).ThenBy(p => p.Y).ToList();
        int n = pairs.Count;
        if (n < 3 || pairs.All(p => p.X == pairs[0].X) || pairs.All(p => p.Y == pairs[0].Y)) return null;

        var random = new Random(Seed);
        var rhos = new List<double>(resamples);
        var xs = new double[n];
        var ys = new double[n];
        for (int b = 0; b < resamples; b++)
        {
            for (int i = 0; i < n; i++)
            {
                var (px, py) = pairs[random.Next(n)];
                xs[i] = px;
                ys[i] = py;
            }
            if (Spearman.Rho(xs, ys) is double rho) rhos.Add(rho);
        }
        if (rhos.Count == 0) return null;
        rhos.Sort();
        return new SpearmanInterval(Percentile(rhos, 0.025), Percentile(rhos, 0.975), resamples, resamples - rhos.Count);
    }

    /// <summary>Linear interpolation between the order statistics around position p·(m − 1) of a sorted list.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double p)
    {
        double position = p * (sorted.Count - 1);
        int below = (int)Math.Floor(position);
        int above = Math.Min(below + 1, sorted.Count - 1);
        double fraction = position - below;
        // When both neighbours are equal the result is that value exactly (no rounding off a ρ of 1).
        return sorted[below] == sorted[above] ? sorted[below] : sorted[below] + fraction * (sorted[above] - sorted[below]);
    }
}
