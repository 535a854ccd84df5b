using EquivarianceLab.Measure;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Measure;

/// <summary>Transforms against values worked out from numpy's documented semantics, and the similarity by hand.</summary>
public class TransformTests
{
    private static float[] Values(Tensor t) => t.contiguous().data<float>().ToArray();

    [Fact]
    public void Rot90_follows_numpy()
    {
        // np.rot90([[1,2],[3,4]]) = [[2,4],[1,3]]; k=2: [[4,3],[2,1]]; k=3: [[3,1],[4,2]]
        using var m = tensor(new float[] { 1, 2, 3, 4 }, [1, 1, 2, 2]);
        Assert.Equal([2, 4, 1, 3], Values(Rotation.Rotate(m, 1)));
        Assert.Equal([4, 3, 2, 1], Values(Rotation.Rotate(m, 2)));
        Assert.Equal([3, 1, 4, 2], Values(Rotation.Rotate(m, 3)));
        // np.rot90([[1,2,3],[4,5,6]]) = [[3,6],[2,5],[1,4]]
        using var r = tensor(new float[] { 1, 2, 3, 4, 5, 6 }, [1, 1, 2, 3]);
        using var rotated = Rotation.Rotate(r, 1);
        Assert.Equal([1L, 1, 3, 2], rotated.shape);
        Assert.Equal([3, 6, 2, 5, 1, 4], Values(rotated));
    }

    [Fact]
    public void Shift_follows_numpy_roll_and_flip_mirrors_columns()
    {
        // np.roll([[1,2,3],[4,5,6],[7,8,9]], (1,1), axes=(0,1)) = [[9,7,8],[3,1,2],[6,4,5]]
        using var m = tensor(new float[] { 1, 2, 3, 4, 5, 6, 7, 8, 9 }, [1, 1, 3, 3]);
        Assert.Equal([9, 7, 8, 3, 1, 2, 6, 4, 5], Values(new DiagonalShift(1).ApplyToInput(m)));
        Assert.Equal([3, 2, 1, 6, 5, 4, 9, 8, 7], Values(new HorizontalFlip().ApplyToInput(m)));
    }

    [Theory]
    [InlineData(1, 2, 4, 1)]    // 0.5 rounds away from zero
    [InlineData(1, 7, 28, 0)]   // 0.25
    [InlineData(2, 7, 28, 1)]   // 0.5
    [InlineData(3, 14, 28, 2)]  // 1.5
    [InlineData(5, 14, 28, 3)]  // 2.5
    [InlineData(16, 7, 224, 1)] // 0.5
    [InlineData(15, 7, 224, 0)] // 0.47
    public void Feature_shift_rounds_half_away_from_zero(int k, int size, int inputSize, long expected) =>
        Assert.Equal(expected, DiagonalShift.ScaledShift(k, size, inputSize));

    [Theory]
    [InlineData("rotation")]
    [InlineData("translation")]
    [InlineData("flip")]
    public void The_inverse_action_undoes_the_action_on_feature_maps(string family)
    {
        // A 7×7 map of a 28×28 input: shifts 1..5 scale to 0, 1, 1, 1, 1 (rounding half away from zero).
        using var f = Scalars.Range(0, 2 * 3 * 7 * 7, dtype: TorchSharp.torch.ScalarType.Float32).reshape(2, 3, 7, 7);
        foreach (var g in SpatialTransform.Family(MeasureNames.ParseTransform(family), 5))
        {
            using var moved = g.ApplyToFeature(f, 28, 28);
            using var back = g.ApplyInverseToFeature(moved, 28, 28);
            Assert.True(back.eq(f).all().item<bool>(), g.Key);
        }
    }

    [Fact]
    public void Family_members_and_keys()
    {
        Assert.Equal(["rot90", "rot180", "rot270"], SpatialTransform.Family(TransformFamily.Rotation, 16).Select(t => t.Key));
        Assert.Equal(16, SpatialTransform.Family(TransformFamily.Translation, 16).Count);
        Assert.Equal("shift3", SpatialTransform.Family(TransformFamily.Translation, 3)[2].Key);
        Assert.Equal(["flip"], SpatialTransform.Family(TransformFamily.Flip, 16).Select(t => t.Key));
        Assert.Throws<EquivarianceLabException>(() => MeasureNames.ParseTransform("scale"));
        Assert.Throws<EquivarianceLabException>(() => SpatialTransform.Family(TransformFamily.Translation, 0));
    }

    [Theory]
    // a = [1,2,3,4]; b = [1,3,2,4]: centred dot 4, norms² 5 and 5 → 0.8; raw dot 29, norms² 30 → 29/30
    [InlineData(new float[] { 1, 2, 3, 4 }, new float[] { 1, 3, 2, 4 }, 0.8, 29.0 / 30.0)]
    // b reversed: pearson −1; cosine 20/30
    [InlineData(new float[] { 1, 2, 3, 4 }, new float[] { 4, 3, 2, 1 }, -1.0, 20.0 / 30.0)]
    // a shifted by a constant: pearson ignores the offset, cosine does not: (11+24+39+56)/(√30·√630) = 130/√18900
    [InlineData(new float[] { 1, 2, 3, 4 }, new float[] { 11, 12, 13, 14 }, 1.0, 130 / 137.4772708486752)]
    public void Similarities_by_hand(float[] a, float[] b, double pearson, double cosine)
    {
        Assert.Equal(pearson, Pair(a, b, SimilarityKind.Pearson).Invariance!.Value, 5);
        Assert.Equal(cosine, Pair(a, b, SimilarityKind.Cosine).Invariance!.Value, 5);
    }

    [Fact]
    public void Equivariance_is_the_best_match_over_channels_and_skips_degenerate_ones()
    {
        // A: c0 = [1,2,3,4], c1 = [0,0,1,0]; B: c0 = [5,5,5,5] (constant: degenerate for pearson), c1 = [1,3,2,4].
        // I: c0 has a degenerate partner → no pair; c1: pearson([0,0,1,0],[1,3,2,4]) = (−.25·−1.5 −.25·.5 +.75·−.5 −.25·1.5)/(√.75·√5) = −0.5/1.93649 = −0.2582
        // E: c0 → only c1 is valid: 0.8; c1 → −0.2582. Mean E = 0.2709, mean I = −0.2582.
        using var a = tensor(new float[] { 1, 2, 3, 4, 0, 0, 1, 0 }, [1, 2, 4]);
        using var b = tensor(new float[] { 5, 5, 5, 5, 1, 3, 2, 4 }, [1, 2, 4]);
        var score = Score(a, b, SimilarityKind.Pearson);
        Assert.Equal(-0.5 / Math.Sqrt(0.75 * 5), score.Invariance!.Value, 5);
        Assert.Equal((0.8 - 0.5 / Math.Sqrt(0.75 * 5)) / 2, score.Equivariance!.Value, 5);
        // Cosine: [5,5,5,5] is a fine vector: I = mean(cos(c0,[5..]) , cos(c1,[1,3,2,4])) = mean(50/(√30·10), 2/√30)
        var cos = Score(a, b, SimilarityKind.Cosine);
        Assert.Equal((50 / (Math.Sqrt(30) * 10) + 2 / Math.Sqrt(30)) / 2, cos.Invariance!.Value, 5);
    }

    [Fact]
    public void All_degenerate_gives_no_score_rather_than_zero()
    {
        using var a = zeros(1, 2, 4);
        using var b = ones(1, 2, 4);
        var score = Score(a, b, SimilarityKind.Pearson);
        Assert.Null(score.Invariance);
        Assert.Null(score.Equivariance);
    }

    [Theory]
    [InlineData(SimilarityKind.Pearson)]
    [InlineData(SimilarityKind.Cosine)]
    public void Many_channels_split_into_chunks_give_the_pairwise_answer_with_degenerate_partners_skipped(SimilarityKind kind)
    {
        // 5 images × 700 channels × 3 positions: 490 000 similarities per image, so the products run in chunks of
        // images. Every 7th channel of B is constant (degenerate for pearson) or zero (for cosine). Every valid pair is
        // negatively similar (A falls where B rises; for cosine A < 0 < B), so a skipped partner that counted as a
        // similarity of 0 would win every maximum.
        const int n = 5, c = 700, l = 3;
        var random = new Random(11);
        var av = new float[n * c * l];
        var bv = new float[n * c * l];
        for (var i = 0; i < av.Length; i++)
        {
            var p = i % l;
            var (noiseA, noiseB) = ((float)random.NextDouble() * 0.5f, (float)random.NextDouble() * 0.5f);
            (av[i], bv[i]) = kind == SimilarityKind.Pearson ? (2 - p + noiseA, p + noiseB) : (-0.1f - noiseA, 0.1f + noiseB);
        }
        for (var img = 0; img < n; img++)
            for (var ch = 0; ch < c; ch += 7)
                for (var p = 0; p < l; p++) bv[(img * c + ch) * l + p] = kind == SimilarityKind.Pearson ? 2f : 0f;
        using var a = tensor(av, [n, c, l]);
        using var b = tensor(bv, [n, c, l]);
        var score = Score(a, b, kind);

        double S(float[] x, int xi, float[] y, int yi)
        {
            double mx = 0, my = 0;
            if (kind == SimilarityKind.Pearson)
            {
                for (var p = 0; p < l; p++) { mx += x[xi + p]; my += y[yi + p]; }
                mx /= l; my /= l;
            }
            double dot = 0, nx = 0, ny = 0;
            for (var p = 0; p < l; p++)
            {
                double u = x[xi + p] - mx, v = y[yi + p] - my;
                dot += u * v; nx += u * u; ny += v * v;
            }
            return dot / Math.Sqrt(nx * ny);
        }
        double invSum = 0, eqSum = 0;
        long invCount = 0, eqCount = 0;
        for (var img = 0; img < n; img++)
            for (var ch = 0; ch < c; ch++)
            {
                var best = double.NegativeInfinity;
                for (var other = 0; other < c; other++)
                    if (other % 7 != 0) best = Math.Max(best, S(av, (img * c + ch) * l, bv, (img * c + other) * l));
                eqSum += best; eqCount++;
                if (ch % 7 != 0) { invSum += S(av, (img * c + ch) * l, bv, (img * c + ch) * l); invCount++; }
            }
        Assert.True(eqSum / eqCount < -0.1, $"the maxima should be negative here: {eqSum / eqCount}");
        Assert.Equal(invSum / invCount, score.Invariance!.Value, 5);
        Assert.Equal(eqSum / eqCount, score.Equivariance!.Value, 5);
    }

    private static Score Pair(float[] a, float[] b, SimilarityKind kind)
    {
        using var ta = tensor(a, [1, 1, a.Length]);
        using var tb = tensor(b, [1, 1, b.Length]);
        return Score(ta, tb, kind);
    }

    private static Score Score(Tensor a, Tensor b, SimilarityKind kind)
    {
        using var scope = NewDisposeScope();
        var (ua, va) = Similarity.Normalize(a, kind);
        var (ub, vb) = Similarity.Normalize(b, kind);
        var acc = new ScoreAccumulator();
        Similarity.Accumulate(ua, va, ub, vb, acc);
        return acc.ToScore();
    }
}
