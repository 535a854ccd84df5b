using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;
using EquivarianceLab.Tests.Equivalence;
using EquivarianceLab.Tests.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Measure;

/// <summary>
/// The fused kernel against the batched product it replaces (<see cref="Similarity.Accumulate"/> on explicitly
/// moved-back, normalised vectors), and against the explicit C×C′ similarity matrix for its argmax. Measurements
/// with the kernel switched on and off are compared in a collection of their own (the switch is process-wide).
/// </summary>
[Collection(nameof(KernelSwitchTests))]
public class SimilarityKernelTests : IDisposable
{
    public void Dispose() => SimilarityKernel.WideVectors = true;

    public static TheoryData<int, int, int, bool, bool> Shapes()
    {
        var shapes = new (int, int, int, bool)[]
        {
            (3, 1, 4, true), (5, 3, 9, false), (4, 17, 4, true), (2, 64, 50, true), (3, 33, 2, false), (2, 512, 4, true),
            (1, 16, 1024, true), (3, 40, 200, false), (2, 6, 64, true),
            (2, 60, 300, false), // padded to 64 channels, several chunks of the reference, rows skewed past each 16th
            (2, 300, 70, true), // long vectors whose sums do not fit one pass (300 × 320 > L2Floats): two passes of rows
            (1, 300, 70, false), (1, 200, 4, true), // one image: its channels split into parts of 128 (long and short vectors)
        };
        var data = new TheoryData<int, int, int, bool, bool>();
        foreach (var (n, c, l, pearson) in shapes)
            foreach (var wide in new[] { true, false })
                data.Add(n, c, l, pearson, wide);
        return data;
    }

    /// <summary>Both tile shapes where the processor has 512-bit registers; the 256-bit ones otherwise.</summary>
    [Theory]
    [MemberData(nameof(Shapes))]
    public void Gives_the_batched_products_sums_counts_and_per_image_sums(int n, int channels, int length, bool pearson, bool wide)
    {
        Assert.True(SimilarityKernel.Supported, "this machine has AVX2 and FMA; the kernel must run here");
        SimilarityKernel.WideVectors = wide;
        var kind = pearson ? SimilarityKind.Pearson : SimilarityKind.Cosine;
        using var scope = NewDisposeScope();
        var (moved, reference) = Features(n, channels, length, seed: channels * 31 + length);
        var inverse = Permutation(length, seed: length);

        var expected = new ScoreAccumulator(n);
        var back = moved.index_select(2, tensor(inverse.Select(i => (long)i).ToArray()));
        var (unitA, validA) = Similarity.Normalize(back, kind);
        var (unitB, validB) = Similarity.Normalize(reference, kind);
        Similarity.Accumulate(unitA, validA, unitB, validB, expected);

        var actual = new ScoreAccumulator(n);
        var choices = new ChannelChoices();
        SimilarityKernel.Accumulate(moved, inverse, new SimilarityKernel.Reference(reference, kind), actual, choices);
        var batched = new ChannelChoices();
        Similarity.Accumulate(unitA, validA, unitB, validB, new ScoreAccumulator(), batched)?.Dispose();

        Assert.Equal(expected.InvarianceCount, actual.InvarianceCount);
        Assert.Equal(expected.EquivarianceCount, actual.EquivarianceCount);
        Assert.Equal(expected.InvarianceSum, actual.InvarianceSum, 1e-6 * Math.Max(1, expected.InvarianceCount));
        Assert.Equal(expected.EquivarianceSum, actual.EquivarianceSum, 1e-6 * Math.Max(1, expected.EquivarianceCount));
        var (e, a) = (expected.Influence(), actual.Influence());
        Assert.Equal(e.Invariance!.Length, a.Invariance!.Length);
        for (int i = 0; i < e.Invariance.Length; i++)
        {
            Assert.Equal(e.Invariance[i], a.Invariance[i], 1e-5);
            Assert.Equal(e.Equivariance![i], a.Equivariance![i], 1e-5);
        }

        // The argmax is the explicit matrix's, wherever the best is clear of the runner-up; the best and c′ = c
        // similarities are the batched product's (NaN where it has none).
        var sims = bmm(unitA, unitB.transpose(1, 2)).MaskedFillInPlace(validB.logical_not().unsqueeze(1), double.NegativeInfinity);
        var top = sims.topk(Math.Min(2, channels), dim: -1);
        for (int i = 0; i < n; i++)
            for (int c = 0; c < channels; c++)
            {
                bool rowValid = validA[i, c].item<bool>() && validB[i].any().item<bool>();
                int k = i * channels + c;
                Assert.Equal(float.IsNaN(batched.Diagonal[k]), float.IsNaN(choices.Diagonal[k]));
                if (!float.IsNaN(batched.Diagonal[k])) Assert.Equal(batched.Diagonal[k], choices.Diagonal[k], 1e-5f);
                if (!rowValid)
                {
                    Assert.Equal(-1, choices.Partner[k]);
                    Assert.Equal(-1, batched.Partner[k]);
                    Assert.True(float.IsNaN(choices.Best[k]));
                    continue;
                }
                Assert.Equal(batched.Best[k], choices.Best[k], 1e-5f);
                var gap = channels > 1 ? top.values[i, c, 0].item<float>() - top.values[i, c, 1].item<float>() : 1f;
                if (gap > 1e-5f)
                {
                    Assert.Equal(top.indexes[i, c, 0].item<long>(), choices.Partner[k]);
                    Assert.Equal(top.indexes[i, c, 0].item<long>(), batched.Partner[k]);
                }
            }
    }

    [Fact]
    public void Equal_best_partners_go_to_the_smallest_index()
    {
        // Every reference channel is the same vector: all c′ tie, and the match must be 0 for every channel.
        using var scope = NewDisposeScope();
        var row = randn(1, 1, 9);
        var reference = row.expand(1, 20, 9).contiguous();
        var moved = randn(1, 20, 9);
        var (unitB, validB) = Similarity.Normalize(reference, SimilarityKind.Pearson);
        var choices = new ChannelChoices();
        SimilarityKernel.Accumulate(moved, [.. Enumerable.Range(0, 9)], new SimilarityKernel.Reference(reference, SimilarityKind.Pearson),
            new ScoreAccumulator(), choices);
        Assert.All(choices.Partner.Take(20), m => Assert.Equal(0, m));
    }

    /// <summary>
    /// The measure hands a transform's layers to the kernel in one call (one parallel loop): each layer's sums,
    /// per-image sums and choices must be those of a call of its own, to the bit, whatever the shapes beside it (long
    /// and short vectors, and a single image split into parts).
    /// </summary>
    [Fact]
    public void Several_layers_in_one_call_give_each_layers_own_call_to_the_bit()
    {
        using var scope = NewDisposeScope();
        var shapes = new (int N, int C, int L)[] { (3, 64, 100), (3, 300, 4), (1, 200, 70), (3, 33, 9) };
        var layers = shapes.Select((shape, k) =>
        {
            var (moved, reference) = Features(shape.N, shape.C, shape.L, seed: 100 + k);
            return (Moved: moved, Reference: new SimilarityKernel.Reference(reference, SimilarityKind.Pearson), Inverse: Permutation(shape.L, seed: k));
        }).ToArray();

        var alone = layers.Select(layer =>
        {
            var into = new ScoreAccumulator((int)layer.Moved.shape[0]);
            var choices = new ChannelChoices();
            SimilarityKernel.Accumulate(layer.Moved, layer.Inverse, layer.Reference, into, choices);
            return (Into: into, Choices: choices);
        }).ToArray();
        var together = layers.Select(layer => (Into: new ScoreAccumulator((int)layer.Moved.shape[0]), Choices: new ChannelChoices())).ToArray();
        SimilarityKernel.Accumulate([.. layers.Select((layer, k) =>
            new SimilarityKernel.Comparison(layer.Moved, layer.Inverse, layer.Reference, together[k].Into, together[k].Choices))]);

        for (int k = 0; k < layers.Length; k++)
        {
            var (a, b) = (alone[k], together[k]);
            Assert.Equal(a.Into.InvarianceSum, b.Into.InvarianceSum);
            Assert.Equal(a.Into.EquivarianceSum, b.Into.EquivarianceSum);
            Assert.Equal(a.Into.InvarianceCount, b.Into.InvarianceCount);
            Assert.Equal(a.Into.EquivarianceCount, b.Into.EquivarianceCount);
            Assert.Equal(a.Into.Influence().Equivariance, b.Into.Influence().Equivariance);
            int size = a.Choices.Images * a.Choices.Channels;
            Assert.Equal(a.Choices.Partner.Take(size), b.Choices.Partner.Take(size));
            Assert.Equal(a.Choices.Best.Take(size), b.Choices.Best.Take(size));
            Assert.Equal(a.Choices.Diagonal.Take(size), b.Choices.Diagonal.Take(size));
        }
        Assert.True(alone[0].Into.EquivarianceCount > 0);
    }

    /// <summary>References filled together (one parallel loop for a batch's layers) equal references filled one by one.</summary>
    [Fact]
    public void References_filled_together_equal_references_filled_alone()
    {
        using var scope = NewDisposeScope();
        var features = new[] { (2, 40, 50), (2, 300, 4), (2, 17, 9) }.Select((s, k) => Features(s.Item1, s.Item2, s.Item3, seed: 7 + k).Reference).ToArray();
        var together = features.Select(_ => new SimilarityKernel.Reference()).ToArray();
        SimilarityKernel.Reference.FillAll([.. together.Zip(features)], SimilarityKind.Pearson);
        for (int k = 0; k < features.Length; k++)
        {
            int length = (int)features[k].shape[2];
            var moved = Features((int)features[k].shape[0], (int)features[k].shape[1], length, seed: 50 + k).Moved;
            var (a, b) = (new ChannelChoices(), new ChannelChoices());
            var (sumA, sumB) = (new ScoreAccumulator(), new ScoreAccumulator());
            var inverse = Permutation(length, seed: 3);
            SimilarityKernel.Accumulate(moved, inverse, new SimilarityKernel.Reference(features[k], SimilarityKind.Pearson), sumA, a);
            SimilarityKernel.Accumulate(moved, inverse, together[k], sumB, b);
            Assert.Equal(sumA.EquivarianceSum, sumB.EquivarianceSum);
            Assert.Equal(sumA.InvarianceSum, sumB.InvarianceSum);
            Assert.Equal(a.Partner, b.Partner);
            Assert.Equal(a.Best, b.Best);
        }
    }

    /// <summary>
    /// A layer keeps one reference for a whole run and the measure passes the same gather array every batch, so the
    /// reference keeps the rows it reads through that gather. A later batch of other values, or of a shape with other
    /// padded channels (8 → 32 floats a row, 40 → 64) through the same array, must give what a fresh reference gives.
    /// </summary>
    [Fact]
    public void A_reference_refilled_batch_after_batch_through_the_same_gather_equals_a_fresh_one()
    {
        using var scope = NewDisposeScope();
        const int length = 70; // the chunked path, with more than 64 skewed rows
        var inverse = Permutation(length, seed: 11);
        var kept = new SimilarityKernel.Reference();
        var batches = new (int N, int C, int Seed)[] { (3, 8, 1), (2, 8, 2), (3, 40, 3), (2, 8, 4) };
        foreach (var (n, c, seed) in batches)
        {
            var (moved, reference) = Features(n, c, length, seed);
            SimilarityKernel.Reference.FillAll([(kept, reference)], SimilarityKind.Pearson);
            var (fresh, reused) = (new ChannelChoices(), new ChannelChoices());
            var (sumFresh, sumReused) = (new ScoreAccumulator(), new ScoreAccumulator());
            SimilarityKernel.Accumulate(moved, inverse, new SimilarityKernel.Reference(reference, SimilarityKind.Pearson), sumFresh, fresh);
            SimilarityKernel.Accumulate(moved, inverse, kept, sumReused, reused);
            Assert.Equal(sumFresh.EquivarianceSum, sumReused.EquivarianceSum);
            Assert.Equal(sumFresh.InvarianceSum, sumReused.InvarianceSum);
            Assert.Equal(fresh.Partner.Take(n * c), reused.Partner.Take(n * c));
            Assert.Equal(fresh.Diagonal.Take(n * c), reused.Diagonal.Take(n * c));
            Assert.True(sumFresh.EquivarianceCount > 0);
        }
    }

    /// <summary>f(gX) and f(X) with a constant channel (degenerate for pearson), an all-zero one (degenerate for both) and a large offset.</summary>
    private static (Tensor Moved, Tensor Reference) Features(int n, int channels, int length, int seed)
    {
        manual_seed(seed);
        var moved = randn(n, channels, length);
        var reference = randn(n, channels, length);
        if (channels > 2 && length > 1)
        {
            moved[0, 1] = ones(length).Times(3.0);
            reference[n - 1, 2] = zeros(length);
            reference[0, 0] = ones(length).Times(-2.0);
            moved[n - 1, channels - 1] = moved[n - 1, channels - 1].Plus(100.0);
        }
        return (moved, reference);
    }

    private static int[] Permutation(int length, int seed)
    {
        var p = Enumerable.Range(0, length).ToArray();
        new Random(seed).Shuffle(p);
        return p;
    }
}

[CollectionDefinition(nameof(KernelSwitchTests), DisableParallelization = true)]
public sealed class KernelSwitchCollection;

/// <summary>Whole measurements with the kernel and with the batched product agree on every layer and transform.</summary>
[Collection(nameof(KernelSwitchTests))]
public sealed class KernelSwitchTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("eqlab-kernel-").FullName;

    public void Dispose()
    {
        SimilarityKernel.Enabled = true;
        Directory.Delete(_folder, recursive: true);
    }

    [Theory]
    [InlineData("rotation", "pearson")]
    [InlineData("translation", "cosine")]
    [InlineData("flip", "pearson")]
    public void A_resnet18_and_a_token_model_measure_the_same_with_the_kernel_and_with_the_batched_product(string transform, string similarity)
    {
        var options = new MeasureOptions
        {
            Transform = MeasureNames.ParseTransform(transform),
            Similarity = MeasureNames.ParseSimilarity(similarity),
            MaxShift = 3,
            BatchSize = 5,
            Images = 7,
        };
        var (_, onnxPath) = ResNet18GraphTests.Make(_folder, 32);
        using var probe = new TensorProbeSet("random", OnnxTestGraphs.Images(7, 3, 32, 32));
        using (var resnet = ModelLoader.Load(onnxPath, layers: ["stem", "layer1", "layer2", "layer3", "layer4", "pool", "logits"]))
            Compare(resnet, probe, options);
        using var greyProbe = new TensorProbeSet("grey", OnnxTestGraphs.Images(7, 1, 12, 12));
        using var tokens = new TorchFeatureModel("probe-net", new ProbeNet(seed: 4), [1, -1, -1]);
        Compare(tokens, greyProbe, options);
    }

    private static void Compare(IFeatureModel model, IProbeSet probe, MeasureOptions options)
    {
        SimilarityKernel.Enabled = false;
        var expected = EquivarianceMeasure.Run(model, probe, options);
        SimilarityKernel.Enabled = true;
        var actual = EquivarianceMeasure.Run(model, probe, options);
        for (int l = 0; l < expected.Layers.Count; l++)
            foreach (var (key, score) in expected.Layers[l].PerTransform)
            {
                var other = actual.Layers[l].PerTransform[key];
                Assert.True(Close(score.Invariance, other.Invariance) && Close(score.Equivariance, other.Equivariance),
                    $"{model.Name} {expected.Layers[l].Name}/{key}: batched ({score.Invariance}, {score.Equivariance}) vs kernel ({other.Invariance}, {other.Equivariance})");
                Assert.True(Close(score.InvarianceStderr, other.InvarianceStderr), $"{expected.Layers[l].Name}/{key} standard error");
                // The channel matching: the same partners and shares, except where two partners tie up to float
                // rounding. On grids of a few positions (layer2's 4×4 and layer3's 2×2 here) ReLU maps with one or two
                // non-zero positions correlate exactly alike with every such partner, and the two paths sum in
                // different orders; so do the pooled vectors over 7 images, where a channel that fires on one image
                // only is the same unit vector as every other such channel. The similarities themselves agree below.
                var (m, o) = (expected.Layers[l].Matching![key], actual.Layers[l].Matching![key]);
                Assert.Equal(m.Decisions, o.Decisions);
                long positions = expected.Layers[l].Shape.Skip(1).Aggregate(1L, (a, b) => a * b);
                var same = m.Rows().Zip(o.Rows()).Count(p => p.First.Match == p.Second.Match && p.First.MatchShare == p.Second.MatchShare);
                if (positions >= 64 && expected.Layers[l].Shape.Length > 1) Assert.Equal(m.Channels, same);
                else Assert.True(same >= 0.8 * m.Channels, $"{expected.Layers[l].Name}/{key}: {same} of {m.Channels} channels match alike");
                // Stored to 4 decimals: a difference of 1e-6 can move the last one.
                for (int c = 0; c < m.Channels; c++)
                    Assert.True(Close(m.Equivariance[c], o.Equivariance[c], 1.5e-4) && Close(m.Invariance[c], o.Invariance[c], 1.5e-4),
                        $"{expected.Layers[l].Name}/{key} channel {c}");
            }
    }

    private static bool Close(double? a, double? b, double tolerance = 1e-6) => a is null ? b is null : b is not null && Math.Abs(a.Value - b.Value) <= tolerance;
}
