using EquivarianceLab.Statistics;

namespace EquivarianceLab.Tests.Statistics;

/// <summary>The bootstrap interval of ρ: fixed by its seed, around ρ, degenerate exactly where it must be.</summary>
public class SpearmanBootstrapTests
{
    private static readonly double[] X = [0.91, 0.85, 0.78, 0.88, 0.95, 0.70, 0.66, 0.81, 0.73, 0.90, 0.60, 0.84];
    private static readonly double[] Y = [72.0, 71.0, 74.2, 70.5, 77.9, 69.0, 68.3, 70.2, 71.8, 75.0, 66.1, 69.4];

    [Fact]
    public void The_same_pairs_give_the_same_interval()
    {
        var a = SpearmanBootstrap.Interval(X, Y)!;
        var b = SpearmanBootstrap.Interval([.. X], [.. Y])!;
        Assert.Equal(a, b);
        Assert.Equal(SpearmanBootstrap.DefaultResamples, a.Resamples);
        // The pairs in another order: the same interval (the study and the dashboard list models differently).
        var order = Enumerable.Range(0, X.Length).Reverse().ToArray();
        Assert.Equal(a, SpearmanBootstrap.Interval([.. order.Select(k => X[k])], [.. order.Select(k => Y[k])]));
    }

    [Fact]
    public void The_interval_contains_rho_for_ordinary_data()
    {
        var rho = Spearman.Compute(X, Y).Rho!.Value;
        var i = SpearmanBootstrap.Interval(X, Y)!;
        Assert.InRange(rho, i.Low, i.High);
        Assert.True(i.Low < i.High);
        Assert.InRange(i.Low, -1, 1);
        Assert.InRange(i.High, -1, 1);
        Assert.Equal(0, i.Skipped); // with 12 distinct values a constant resample has probability 12·12⁻¹²

        // Independent noise: ρ near 0 and an interval that takes in 0 on both sides.
        var random = new Random(7);
        var u = Enumerable.Range(0, 30).Select(_ => random.NextDouble()).ToArray();
        var v = Enumerable.Range(0, 30).Select(_ => random.NextDouble()).ToArray();
        var noise = SpearmanBootstrap.Interval(u, v)!;
        Assert.True(noise.Low < 0 && noise.High > 0, $"[{noise.Low}, {noise.High}]");

        // A strong relation over 30 pairs: a narrow interval well above 0.
        var w = u.Select((a, k) => a + 0.05 * v[k]).ToArray();
        var strong = SpearmanBootstrap.Interval(u, w)!;
        Assert.InRange(strong.Low, 0.8, 1);
        Assert.True(strong.High - strong.Low < 0.2, $"[{strong.Low}, {strong.High}]");
    }

    [Fact]
    public void A_perfectly_monotone_sample_without_ties_gives_exactly_one_to_one()
    {
        var x = Enumerable.Range(1, 8).Select(i => (double)i).ToArray();
        var i = SpearmanBootstrap.Interval(x, x.Select(Math.Exp).ToArray())!;
        Assert.Equal(1.0, i.Low);
        Assert.Equal(1.0, i.High);
        var reversed = SpearmanBootstrap.Interval(x, x.Select(a => -a * a).ToArray())!;
        Assert.Equal(-1.0, reversed.Low);
        Assert.Equal(-1.0, reversed.High);
    }

    [Fact]
    public void Resamples_with_a_constant_side_are_skipped_and_counted()
    {
        // Three pairs: a resample is constant when all three draws are the same pair, probability 3/27 = 1/9, so about
        // 1111 of 10 000 (binomial sd ≈ 31); every other resample of a monotone sample has ρ = 1.
        var i = SpearmanBootstrap.Interval([1, 2, 3], [10, 20, 30])!;
        Assert.InRange(i.Skipped, 1111 - 125, 1111 + 125);
        Assert.Equal((1.0, 1.0), (i.Low, i.High));
    }

    [Fact]
    public void No_interval_without_a_rho()
    {
        Assert.Null(SpearmanBootstrap.Interval([1, 2], [3, 4]));
        Assert.Null(SpearmanBootstrap.Interval([1, 2, 3], [5, 5, 5]));
        Assert.Null(SpearmanBootstrap.Interval([1, double.NaN, 2, 3], [4, 5, 6, double.NaN])); // two pairs left
    }

    [Fact]
    public void Percentiles_interpolate_between_order_statistics()
    {
        // numpy.percentile([0, 1, 2, 3, 4], 2.5) = 0.1, 97.5 → 3.9
        Assert.Equal(0.1, SpearmanBootstrap.Percentile([0, 1, 2, 3, 4], 0.025), 12);
        Assert.Equal(3.9, SpearmanBootstrap.Percentile([0, 1, 2, 3, 4], 0.975), 12);
        Assert.Equal(5.0, SpearmanBootstrap.Percentile([5], 0.975));
    }
}
