using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Measure;

public class MeasureTests
{
    private static (float[] Data, TensorProbeSet Probe) RandomProbe(int seed, int n, int c, int h, int w)
    {
        var random = new Random(seed);
        var data = Enumerable.Range(0, n * c * h * w).Select(_ => (float)random.NextDouble()).ToArray();
        return (data, new TensorProbeSet("random", tensor(data, [n, c, h, w])));
    }

    [Theory]
    [InlineData("rotation", true, 3)]
    [InlineData("rotation", false, 5)]
    [InlineData("translation", true, 4)]
    [InlineData("translation", false, 32)]
    [InlineData("flip", true, 7)]
    public void Agrees_with_the_naive_reference_on_every_layer_and_transform(string family, bool pearson, int batch)
    {
        const int n = 11, h = 12, w = 12;
        var (data, probe) = RandomProbe(1, n, 1, h, w);
        using var _ = probe;
        using var model = new TorchFeatureModel("probe-net", new ProbeNet(seed: 2), [1, -1, -1]);
        var options = new MeasureOptions
        {
            Transform = MeasureNames.ParseTransform(family),
            Similarity = pearson ? SimilarityKind.Pearson : SimilarityKind.Cosine,
            MaxShift = 5,
            BatchSize = batch,
        };

        var result = EquivarianceMeasure.Run(model, probe, options);
        var reference = ReferenceMeasure.Run(model, data, n, 1, h, w, family, 5, pearson);

        Assert.Equal(n, result.Images);
        Assert.Equal(ProbeNet.Hooks, result.Layers.Select(l => l.Name));
        foreach (var layer in result.Layers)
        {
            var expected = reference.PerLayer[layer.Name];
            Assert.Equal(expected.Keys, layer.PerTransform.Keys);
            foreach (var (key, score) in layer.PerTransform)
            {
                AssertClose(expected[key].Inv, score.Invariance, $"{layer.Name}/{key} invariance");
                AssertClose(expected[key].Eqv, score.Equivariance, $"{layer.Name}/{key} equivariance");
                Assert.True(score.Equivariance >= score.Invariance, $"{layer.Name}/{key}: E < I");
            }
            AssertClose(expected.Values.Average(v => v.Inv!.Value), layer.Invariance, $"{layer.Name} mean invariance");
        }
    }

    [Fact]
    public void Dead_channels_are_degenerate_and_counted_nowhere()
    {
        // conv2's channel 4 is all zeros: with it, the layer mean would be dragged toward 0 if it were counted.
        const int n = 6, h = 8, w = 8;
        var (data, probe) = RandomProbe(3, n, 1, h, w);
        using var _ = probe;
        using var model = new TorchFeatureModel("probe-net", new ProbeNet(seed: 4), [1, -1, -1], ["conv2"]);
        using (var outputs = new DisposableList(model.Forward(tensor(data, [n, 1, h, w]))))
            Assert.Equal(0f, outputs[0][.., 4].abs().max().item<float>());
        var result = EquivarianceMeasure.Run(model, probe, new MeasureOptions { Transform = TransformFamily.Flip });
        var reference = ReferenceMeasure.Run(model, data, n, 1, h, w, "flip", 1, pearson: true);
        AssertClose(reference.PerLayer["conv2"]["flip"].Inv, result.Layers[0].Invariance, "conv2");
    }

    [Fact]
    public void Streaming_over_batches_gives_the_same_scores_as_one_batch()
    {
        var (_, probe) = RandomProbe(5, 20, 1, 10, 10);
        using var __ = probe;
        using var model = new TorchFeatureModel("probe-net", new ProbeNet(seed: 6), [1, -1, -1]);
        var whole = EquivarianceMeasure.Run(model, probe, new MeasureOptions { Transform = TransformFamily.Rotation, BatchSize = 20 });
        var streamed = EquivarianceMeasure.Run(model, probe, new MeasureOptions { Transform = TransformFamily.Rotation, BatchSize = 3 });
        foreach (var (a, b) in whole.Layers.Zip(streamed.Layers))
        {
            AssertClose(a.Invariance, b.Invariance, a.Name);
            AssertClose(a.Equivariance, b.Equivariance, a.Name);
        }
    }

    [Fact]
    public void Circular_stride_one_convolutions_are_translation_invariant_at_every_spatial_layer()
    {
        var (_, probe) = RandomProbe(7, 9, 1, 16, 16);
        using var __ = probe;
        using var model = new TorchFeatureModel("circular", new CircularNet(seed: 8), [1, -1, -1]);
        var result = EquivarianceMeasure.Run(model, probe, new MeasureOptions { Transform = TransformFamily.Translation, MaxShift = 6 });
        foreach (var layer in result.Layers)
        {
            Assert.Equal(6, layer.PerTransform.Count);
            foreach (var (key, score) in layer.PerTransform)
            {
                Assert.True(Math.Abs(score.Invariance!.Value - 1) < 1e-5, $"{layer.Name}/{key}: {score.Invariance}");
                Assert.True(Math.Abs(score.Equivariance!.Value - 1) < 1e-5, $"{layer.Name}/{key}: {score.Equivariance}");
            }
        }
        Assert.Equal(["Early", "Middle", "Late", "Pool"], result.Parts.Keys);
        Assert.False(result.Parts.ContainsKey("Final")); // a featurizer has no Final: absent, not zero
    }

    [Fact]
    public void Zero_padded_convolutions_are_not_exactly_translation_invariant()
    {
        // The same net with zero padding sees the wrap-around seam: the measure must notice.
        var (_, probe) = RandomProbe(9, 9, 1, 16, 16);
        using var __ = probe;
        using var model = new TorchFeatureModel("probe-net", new ProbeNet(seed: 10), [1, -1, -1], ["conv1"]);
        var result = EquivarianceMeasure.Run(model, probe, new MeasureOptions { Transform = TransformFamily.Translation, MaxShift = 4 });
        Assert.InRange(result.Layers[0].Invariance!.Value, 0.3, 0.99);
    }

    [Fact]
    public void Rotation_of_non_square_input_is_refused_before_any_work()
    {
        var (_, probe) = RandomProbe(11, 2, 1, 8, 10);
        using var __ = probe;
        using var model = new TorchFeatureModel("probe-net", new ProbeNet(seed: 1), [1, -1, -1]);
        var e = Assert.Throws<EquivarianceLabException>(() => EquivarianceMeasure.Run(model, probe, new MeasureOptions()));
        Assert.Contains("square", e.Message);
        Assert.Contains("8×10", e.Message);
    }

    [Fact]
    public void Images_option_limits_the_probe_and_defaults_to_2000()
    {
        var (_, probe) = RandomProbe(12, 7, 1, 6, 6);
        using var __ = probe;
        using var model = new TorchFeatureModel("probe-net", new ProbeNet(seed: 1), [1, -1, -1], ["conv1"]);
        Assert.Equal(4, EquivarianceMeasure.Run(model, probe, new MeasureOptions { Images = 4 }).Images);
        Assert.Equal(7, EquivarianceMeasure.Run(model, probe, new MeasureOptions()).Images);
        Assert.Equal(2000, MeasureOptions.DefaultMaxImages);
    }

    [Fact]
    public void Progress_and_cancellation()
    {
        var (_, probe) = RandomProbe(13, 10, 1, 6, 6);
        using var __ = probe;
        using var model = new TorchFeatureModel("probe-net", new ProbeNet(seed: 1), [1, -1, -1], ["conv1"]);
        var reports = new List<MeasureProgress>();
        EquivarianceMeasure.Run(model, probe, new MeasureOptions { BatchSize = 4 }, new SyncProgress(reports.Add));
        Assert.Equal([4, 8, 10], reports.Select(r => r.ImagesDone));
        Assert.All(reports, r => Assert.Equal(10, r.ImagesTotal));

        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => EquivarianceMeasure.Run(model, probe, new MeasureOptions(), null, cts.Token));
    }

    [Fact]
    public void Result_json_round_trips_with_the_documented_names()
    {
        var (_, probe) = RandomProbe(14, 4, 1, 6, 6);
        using var __ = probe;
        using var model = new TorchFeatureModel("probe-net", new ProbeNet(seed: 1), [1, -1, -1]);
        var result = EquivarianceMeasure.Run(model, probe, new MeasureOptions { Transform = TransformFamily.Translation, MaxShift = 2 });
        var json = result.ToJson();
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        var root = doc.RootElement;
        foreach (var name in new[] { "model", "probe", "transform", "similarity", "images", "maxShift", "layers", "parts", "timing" })
            Assert.True(root.TryGetProperty(name, out _), name);
        var layer = root.GetProperty("layers")[0];
        foreach (var name in new[] { "name", "index", "part", "shape", "invariance", "equivariance", "perTransform" })
            Assert.True(layer.TryGetProperty(name, out _), name);
        Assert.Equal([6, 6, 6], layer.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
        Assert.True(layer.GetProperty("perTransform").TryGetProperty("shift2", out _));
        Assert.True(root.GetProperty("parts").GetProperty("Early").TryGetProperty("layers", out _));
        Assert.True(root.GetProperty("timing").TryGetProperty("forwardSeconds", out _));
        var back = MeasurementResult.FromJson(json);
        Assert.Equal(result.Layers[1].PerTransform["shift1"], back.Layers[1].PerTransform["shift1"]);
    }

    internal static void AssertClose(double? expected, double? actual, string what, double tolerance = 1e-4)
    {
        Assert.True(expected.HasValue == actual.HasValue, $"{what}: expected {expected}, got {actual}");
        if (expected is { } e) Assert.True(Math.Abs(e - actual!.Value) < tolerance, $"{what}: expected {e}, got {actual}");
    }

    private sealed class SyncProgress(Action<MeasureProgress> report) : IProgress<MeasureProgress>
    {
        public void Report(MeasureProgress value) => report(value);
    }

    private sealed class DisposableList(IReadOnlyList<Tensor> items) : IDisposable
    {
        public Tensor this[int i] => items[i];
        public void Dispose() { foreach (var t in items) t.Dispose(); }
    }
}
