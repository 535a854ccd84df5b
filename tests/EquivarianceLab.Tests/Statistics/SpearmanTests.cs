using EquivarianceLab.Statistics;

namespace EquivarianceLab.Tests.Statistics;

/// <summary>
/// Expected values are independent of the implementation: small permutation counts worked by hand, the
/// scipy.stats.spearmanr documentation example, and values from an exact-arithmetic Python script (fractions for
/// ranks and permutation counts, mpmath's regularised incomplete beta for Student's t).
/// </summary>
public class SpearmanTests
{
    private static void AssertResult(SpearmanResult r, double rho, int n, double p, int digits = 12)
    {
        Assert.Null(r.Reason);
        Assert.Equal(n, r.N);
        Assert.NotNull(r.Rho);
        Assert.NotNull(r.PValue);
        Assert.Equal(rho, r.Rho!.Value, digits);
        Assert.Equal(p, r.PValue!.Value, digits);
    }

    [Fact]
    public void ThreePairsCountedByHand()
    {
        // The 6 orderings of 3 ranks have ρ = 1, 0.5, 0.5, −0.5, −0.5, −1.
        AssertResult(Spearman.Compute([1, 2, 3], [10, 20, 30]), 1, 3, 2.0 / 6);
        AssertResult(Spearman.Compute([1, 2, 3], [1, 3, 2]), 0.5, 3, 6.0 / 6);
        AssertResult(Spearman.Compute([1, 2, 3], [-1, -5, -9]), -1, 3, 2.0 / 6);
    }

    [Fact]
    public void FourPairsCountedByHand()
    {
        // n = 4: ρ = 1 − Σd²/10; Σd² over the 24 orderings is 0 once, 2 three times, …, 18 three times, 20 once.
        AssertResult(Spearman.Compute([1, 2, 3, 4], [1, 2, 4, 3]), 0.8, 4, 8.0 / 24);
        AssertResult(Spearman.Compute([1, 2, 3, 4], [4, 3, 2, 1]), -1, 4, 2.0 / 24);
    }

    [Fact]
    public void FivePairsPerfectAndTheScipyExample()
    {
        AssertResult(Spearman.Compute([1, 2, 3, 4, 5], [2, 4, 8, 16, 32]), 1, 5, 2.0 / 120);
        // scipy.stats.spearmanr([1,2,3,4,5], [5,6,7,8,7]) = 0.8207826816681233 with (t-approximate) p 0.08858700531354381.
        var r = Spearman.Compute([1, 2, 3, 4, 5], [5, 6, 7, 8, 7]);
        AssertResult(r, 0.8207826816681233, 5, 2.0 / 15); // exact: 16 of 120 orderings
        Assert.True(r.IsExact);
        Assert.Equal(0.08858700531354381, Spearman.TPValue(r.Rho!.Value, 5), 12);
    }

    [Fact]
    public void TiesGetAverageRanks()
    {
        Assert.Equal([1.5, 1.5, 3, 4.5, 4.5], Spearman.Ranks([2, 2, 7, 9, 9]));
        Assert.Equal([3.0, 1, 2], Spearman.Ranks([0.3, -1, 0.1]));
        AssertResult(Spearman.Compute([1, 1, 2, 3, 4], [2, 1, 1, 3, 3]), 0.72999639508843142, 5, 4.0 / 15);
        AssertResult(Spearman.Compute([3, 1, 4, 1, 5, 9, 2], [2, 7, 1, 8, 2, 8, 1]), -0.083347625989871558, 7, 6.0 / 7);
    }

    [Fact]
    public void FourPairsPerfectlyRankedHaveTwoOfTwentyFourOrderingsAsExtreme()
    {
        // ρ = 1 is reached by the identity only and ρ = −1 by the reversal: p = 2/4!.
        var r = Spearman.Compute([0.1, 0.4, 0.5, 0.9], [60, 70, 80, 90]);
        AssertResult(r, 1, 4, 2.0 / 24);
        Assert.True(r.IsExact);
    }

    [Theory]
    [InlineData(4, 1, 10)]
    [InlineData(5, 2, 10)]
    [InlineData(6, 3, 4)]
    [InlineData(7, 4, 5)]
    [InlineData(8, 5, 3)]
    [InlineData(8, 6, 100)]
    public void ExactPEqualsABruteForceEnumeration(int n, int seed, int distinctValues)
    {
        // Integers from a small range make ties (distinctValues = 3 or 4: many); the reference below ranks and permutes
        // the plain way, with no shared code.
        var random = new Random(seed);
        for (int trial = 0; trial < 5; trial++)
        {
            var x = Enumerable.Range(0, n).Select(_ => (double)random.Next(distinctValues)).ToArray();
            var y = Enumerable.Range(0, n).Select(_ => (double)random.Next(distinctValues)).ToArray();
            if (x.Distinct().Count() == 1 || y.Distinct().Count() == 1) continue;
            var (rho, p) = BruteForce(x, y);
            var r = Spearman.Compute(x, y);
            AssertResult(r, rho, n, p);
            Assert.True(r.IsExact);
        }
    }

    [Fact]
    public void TenPairsAreEnumeratedExactlyAndFast()
    {
        double[] x = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
        double[] y = [2, 7, 1, 8, 2, 8, 1, 8, 2, 8];
        var (rho, p) = BruteForce(x, y);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var r = Spearman.Compute(x, y);
        watch.Stop();
        AssertResult(r, rho, 10, p);
        Assert.True(r.IsExact);
        Assert.NotEqual(Spearman.TPValue(rho, 10), p, 6);
        // 10! = 3 628 800 orderings, one swap each: well under a second even on a busy machine.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"{watch.Elapsed.TotalMilliseconds:0} ms");

        var perfect = Spearman.Compute([.. Enumerable.Range(1, 10).Select(i => (double)i)], [.. Enumerable.Range(1, 10).Select(i => i * 1.5)]);
        AssertResult(perfect, 1, 10, 2.0 / 3628800, 15);
    }

    /// <summary>ρ and the two-sided permutation p by listing every ordering of y, ranks as count-below + (count-equal + 1)/2.</summary>
    private static (double Rho, double P) BruteForce(double[] x, double[] y)
    {
        double[] Rank(double[] v) => v.Select(a => v.Count(b => b < a) + (v.Count(b => b == a) + 1) / 2.0).ToArray();
        static double Pearson(double[] a, double[] b)
        {
            double ma = a.Average(), mb = b.Average(), ab = 0, aa = 0, bb = 0;
            for (int i = 0; i < a.Length; i++)
            {
                ab += (a[i] - ma) * (b[i] - mb);
                aa += (a[i] - ma) * (a[i] - ma);
                bb += (b[i] - mb) * (b[i] - mb);
            }
            return ab / Math.Sqrt(aa * bb);
        }
        var rx = Rank(x);
        var ry = Rank(y);
        double observed = Pearson(rx, ry);
        long extreme = 0, total = 0;
        // Every ordering of ry: place each remaining value at position k in turn, recurse, put it back.
        void Permute(int k)
        {
            if (k == ry.Length)
            {
                total++;
                if (Math.Abs(Pearson(rx, ry)) >= Math.Abs(observed) - 1e-9) extreme++;
                return;
            }
            for (int i = k; i < ry.Length; i++)
            {
                (ry[k], ry[i]) = (ry[i], ry[k]);
                Permute(k + 1);
                (ry[k], ry[i]) = (ry[i], ry[k]);
            }
        }
        Permute(0);
        return (observed, (double)extreme / total);
    }

    [Fact]
    public void NinePairsEnumerateAllPermutations()
    {
        var r = Spearman.Compute([1, 2, 3, 4, 5, 6, 7, 8, 9], [9, 8, 7, 6, 5, 4, 3, 2, 1]);
        AssertResult(r, -1, 9, 2.0 / 362880, 15);
        Assert.True(r.IsExact);
    }

    [Fact]
    public void AboveTenPairsUsesStudentsT()
    {
        double[] x = [0.91, 0.85, 0.78, 0.88, 0.95, 0.70, 0.66, 0.81, 0.73, 0.90, 0.60, 0.84];
        double[] y = [76.1, 71.0, 70.2, 74.5, 77.9, 69.0, 65.3, 70.2, 68.8, 75.0, 66.1, 72.4];
        var r = Spearman.Compute(x, y);
        AssertResult(r, 0.97723442333199299, 12, 4.6354697626854668e-8, 15);
        Assert.False(r.IsExact);

        double[] a = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
        double[] b = [2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 11];
        AssertResult(Spearman.Compute(a, b), 0.95454545454545455, 11, 4.9888987399497798e-6, 15);
    }

    [Fact]
    public void PerfectCorrelationAboveTenHasPZero()
    {
        var x = Enumerable.Range(0, 15).Select(i => (double)i).ToArray();
        AssertResult(Spearman.Compute(x, x.Select(v => Math.Exp(v)).ToArray()), 1, 15, 0);
        AssertResult(Spearman.Compute(x, x.Select(v => -v).ToArray()), -1, 15, 0);
    }

    [Fact]
    public void TooFewPairsOrAConstantColumnGiveAReason()
    {
        var two = Spearman.Compute([1, 2], [3, 4]);
        Assert.Null(two.Rho);
        Assert.Null(two.PValue);
        Assert.Equal(2, two.N);
        Assert.Contains("at least 3", two.Reason);

        var constant = Spearman.Compute([0.5, 0.7, 0.9, 0.2], [80, 80, 80, 80], "equivariance", "accuracy");
        Assert.Null(constant.Rho);
        Assert.Equal(4, constant.N);
        Assert.Contains("Accuracy is the same", constant.Reason);
        Assert.Contains("Equivariance", Spearman.Compute([1, 1, 1], [1, 2, 3], "equivariance").Reason);
    }

    [Fact]
    public void NaNPairsAreDropped()
    {
        var r = Spearman.Compute([1, double.NaN, 2, 3], [10, 5, 20, 30]);
        AssertResult(r, 1, 3, 2.0 / 6);
        Assert.Contains("2", Spearman.Compute([1, 2, 3], [1, double.NaN, 3]).Reason);
        Assert.Throws<ArgumentException>(() => Spearman.Compute([1, 2, 3], [1, 2]));
    }
}
