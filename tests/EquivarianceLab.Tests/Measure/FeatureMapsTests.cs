using EquivarianceLab.FeatureModels;
using EquivarianceLab.FeatureModels.Onnx;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;
using EquivarianceLab.Tests.Onnx;
using EquivarianceLab.Tests.TestModels;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Measure;

/// <summary>
/// One image's f(gX)_c beside g·f(X)_c′ (the feature-map viewer): checked against networks whose answer is known by
/// construction, against the tensors computed directly, and against the measure's own numbers.
/// </summary>
public class FeatureMapsTests
{
    private static TensorProbeSet Noise(int n, int size, int seed = 3)
    {
        var random = new Random(seed);
        var data = Enumerable.Range(0, n * size * size).Select(_ => (float)random.NextDouble()).ToArray();
        return new TensorProbeSet("noise", tensor(data, [n, 1, size, size]));
    }

    private static float[] Values(Tensor t) => t.contiguous().data<float>().ToArray();

    [Theory]
    [InlineData("rot90")]
    [InlineData("rot180")]
    [InlineData("rot270")]
    public void In_a_P4_network_each_map_is_exactly_the_moved_map_of_its_partner_in_the_same_orientation_group(string key)
    {
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(P4Network.Build(size: 8, channels: 2)));
        using var probe = Noise(3, 8);
        var options = new MeasureOptions { Transform = TransformFamily.Rotation };
        var turns = int.Parse(key[3..], System.Globalization.CultureInfo.InvariantCulture) / 90;
        foreach (var layer in new[] { "lift_relu", "gconv_relu" })
        {
            var shifts = new HashSet<int>();
            for (int c = 0; c < 8; c++)
            {
                var pair = FeatureMaps.Compute(model, probe, new FeatureMapRequest(2, layer, c, key), options);
                Assert.Equal((8, 8), (pair.Height, pair.Width));
                // Rotating the input rotates the maps and shifts their orientation by the same number of quarter turns.
                Assert.Equal(c / 4, pair.Partner / 4);
                shifts.Add(((pair.Partner - c) % 4 + 4) % 4);
                for (int i = 0; i < pair.Moved.Length; i++) Assert.Equal(pair.Reference[i], pair.Moved[i], 1e-5);
                Assert.Equal(1.0, pair.Similarity!.Value, 5);
                Assert.True(pair.SelfSimilarity < 1 - 1e-3, $"{layer} c={c}: S(c, c) = {pair.SelfSimilarity}");
            }
            var shift = Assert.Single(shifts);
            Assert.Contains(shift, turns == 2 ? new[] { 2 } : new[] { 1, 3 });
        }
        // The orientation pool is rotated as a whole: each channel is its own partner.
        var pooled = FeatureMaps.Compute(model, probe, new FeatureMapRequest(0, "group_pool", 1, key), options);
        Assert.Equal(1, pooled.Partner);
        Assert.Equal(1.0, pooled.SelfSimilarity!.Value, 5);
    }

    [Fact]
    public void The_grids_are_the_tensors_computed_directly_and_the_partner_is_the_argmax_of_an_independent_similarity()
    {
        using var model = new TorchFeatureModel("probe-net", new ProbeNet(seed: 1), [1, -1, -1]);
        using var probe = Noise(4, 12, seed: 8);
        var options = new MeasureOptions { Transform = TransformFamily.Translation, MaxShift = 5, Similarity = SimilarityKind.Pearson };
        using var x = probe.ReadBatch(3, 1);
        using var shifted = x.roll([5, 5], [-2, -1]);
        var plain = model.Forward(x);
        var moved = model.Forward(shifted);
        int conv2 = model.Layers.ToList().IndexOf("conv2");
        var f = plain[conv2];  // [1, 5, 6, 6]: the strided layer, so the shift on it is round(5·6/12) = 3 (2.5 away from zero)
        var fg = moved[conv2];
        const int h = 6, scaled = 3;
        for (int c = 0; c < 4; c++) // channel 4 never fires
        {
            var pair = FeatureMaps.Compute(model, probe, new FeatureMapRequest(3, "conv2", c, "shift5"), options);
            Assert.Equal((h, h), (pair.Height, pair.Width));
            Assert.Equal(Values(fg[0, c]), pair.Moved);
            // S(f(gX)_c, g·f(X)_c′) by hand, in doubles: Pearson correlation over the 36 positions.
            var a = Values(fg[0, c]).Select(v => (double)v).ToArray();
            var s = Enumerable.Range(0, 5).Select(p => Pearson(a, Values(f[0, p].roll([scaled, scaled], [-2, -1])))).ToArray();
            var best = Enumerable.Range(0, 5).Where(p => s[p] is not null).MaxBy(p => s[p]!.Value);
            Assert.Equal(best, pair.Partner);
            Assert.NotEqual(4, pair.Partner);
            Assert.Equal(Values(f[0, pair.Partner].roll([scaled, scaled], [-2, -1])), pair.Reference);
            Assert.Equal(s[best]!.Value, pair.Similarity!.Value, 5);
            Assert.Equal(s[c]!.Value, pair.SelfSimilarity!.Value, 5);

            // A partner the caller names is shown as asked, with its similarity.
            var other = (c + 1) % 4;
            var asked = FeatureMaps.Compute(model, probe, new FeatureMapRequest(3, "conv2", c, "shift5", Partner: other), options);
            Assert.Equal(other, asked.Partner);
            Assert.Equal(Values(f[0, other].roll([scaled, scaled], [-2, -1])), asked.Reference);
            Assert.Equal(s[other]!.Value, asked.Similarity!.Value, 5);
        }
        // A degenerate channel has no similarity and is its own partner.
        var dead = FeatureMaps.Compute(model, probe, new FeatureMapRequest(3, "conv2", 4, "shift5"), options);
        Assert.Equal(4, dead.Partner);
        Assert.Null(dead.Similarity);
        Assert.Null(dead.SelfSimilarity);
        Assert.All(dead.Moved, v => Assert.Equal(0f, v));

        // Tokens [N, 1 + 36, 5] are laid out as their 6×6 grid, prefix dropped: here 2·conv2 + 1.
        var tokens = FeatureMaps.Compute(model, probe, new FeatureMapRequest(3, "tokens", 2, "shift5"), options);
        Assert.Equal((6, 6), (tokens.Height, tokens.Width));
        Assert.Equal(Values(fg[0, 2].Times(2.0).Plus(1.0)), tokens.Moved);
        Assert.Equal(new FeatureGrid(5, 6, 6), FeatureMaps.GridOf("tokens", [37, 5]));
        Assert.Equal(new FeatureGrid(6, 12, 12), FeatureMaps.GridOf("conv1", [6, 12, 12]));
        foreach (var t in plain.Concat(moved)) t.Dispose();
    }

    /// <summary>
    /// One image: the measure's score is the mean over channels of what the viewer shows, and each channel's partner is
    /// the run's channel matching — for the permutations and for the resampled transforms (valid region only).
    /// </summary>
    [Theory]
    [InlineData(SimilarityKind.Pearson, TransformFamily.Rotation)]
    [InlineData(SimilarityKind.Cosine, TransformFamily.Rotation)]
    [InlineData(SimilarityKind.Pearson, TransformFamily.RotationContinuous)]
    [InlineData(SimilarityKind.Cosine, TransformFamily.TranslationContinuous)]
    public void Over_the_channels_of_one_image_the_similarities_average_to_the_measure_s_scores(SimilarityKind similarity, TransformFamily family)
    {
        using var model = new TorchFeatureModel("probe-net", new ProbeNet(seed: 2), [1, -1, -1], ["conv1", "conv2"]);
        using var probe = Noise(1, 10, seed: 4);
        var options = new MeasureOptions
        {
            Transform = family, Similarity = similarity,
            Angles = family == TransformFamily.RotationContinuous ? [30, 90] : null,
            Shifts = family == TransformFamily.TranslationContinuous ? [0.5] : null,
        };
        var result = EquivarianceMeasure.Run(model, probe, options);
        foreach (var layer in result.Layers)
        {
            var channels = (int)layer.Shape[0];
            foreach (var (key, score) in layer.PerTransform)
            {
                var pairs = Enumerable.Range(0, channels).Select(c => FeatureMaps.Compute(model, probe, new FeatureMapRequest(0, layer.Name, c, key), options)).ToList();
                Assert.Equal(score.Equivariance!.Value, pairs.Where(p => p.Similarity is not null).Average(p => p.Similarity!.Value), 5);
                Assert.Equal(score.Invariance!.Value, pairs.Where(p => p.SelfSimilarity is not null).Average(p => p.SelfSimilarity!.Value), 5);
                var matching = layer.Matching![key];
                foreach (var p in pairs.Where(p => p.Similarity is not null)) Assert.Equal(matching.Match[p.Channel], p.Partner);
            }
        }
    }

    [Fact]
    public void Each_wrong_part_of_a_request_is_refused_naming_it()
    {
        using var model = new TorchFeatureModel("probe-net", new ProbeNet(seed: 1), [1, -1, -1]);
        using var probe = Noise(2, 8);
        var rotation = new MeasureOptions { Transform = TransformFamily.Rotation };
        string Error(FeatureMapRequest request, MeasureOptions? options = null) =>
            Assert.Throws<EquivarianceLabException>(() => FeatureMaps.Compute(model, probe, request, options ?? rotation)).Message;

        Assert.Equal("Layer 'pool' is a vector layer (5 per image): feature maps exist for spatial layers only.", Error(new(0, "pool", 0, "rot90")));
        Assert.Equal("Model probe-net has no layer 'conv9' among its layers (conv1, conv2, tokens, pool, logits).", Error(new(0, "conv9", 0, "rot90")));
        Assert.Equal("Channel 6 is out of range: layer 'conv1' has 6 channels (0…5).", Error(new(0, "conv1", 6, "rot90")));
        Assert.Equal("Channel -1 is out of range: layer 'conv1' has 6 channels (0…5).", Error(new(0, "conv1", -1, "rot90")));
        Assert.Equal("Partner channel 7 is out of range: layer 'conv1' has 6 channels (0…5).", Error(new(0, "conv1", 0, "rot90", Partner: 7)));
        Assert.Equal("Unknown transform 'shift1' for rotation: use rot90, rot180, rot270.", Error(new(0, "conv1", 0, "shift1")));
        Assert.Equal("Unknown transform 'rot90' for translation: use shift1, shift2.",
            Error(new(0, "conv1", 0, "rot90"), new MeasureOptions { Transform = TransformFamily.Translation, MaxShift = 2 }));
        Assert.Equal("Image 2 is out of range: probe set noise has 2 images (0…1).", Error(new(2, "conv1", 0, "rot90")));
        Assert.Equal("Layer 'logits' is a vector layer (4 per image): feature maps exist for spatial layers only.",
            Assert.Throws<EquivarianceLabException>(() => FeatureMaps.GridOf("logits", [4])).Message);
    }

    /// <summary>Pearson correlation, or null when either vector is degenerate (the measure's rule: centred norm ≤ 1e-6 × raw norm).</summary>
    private static double? Pearson(double[] a, float[] bFloats)
    {
        var b = bFloats.Select(v => (double)v).ToArray();
        double ma = a.Average(), mb = b.Average();
        var ca = a.Select(v => v - ma).ToArray();
        var cb = b.Select(v => v - mb).ToArray();
        double na = Math.Sqrt(ca.Sum(v => v * v)), nb = Math.Sqrt(cb.Sum(v => v * v));
        double ra = Math.Sqrt(a.Sum(v => v * v)), rb = Math.Sqrt(b.Sum(v => v * v));
        if (ra == 0 || rb == 0 || na <= 1e-6 * ra || nb <= 1e-6 * rb) return null;
        return ca.Zip(cb, (x, y) => x * y).Sum() / (na * nb);
    }
}
