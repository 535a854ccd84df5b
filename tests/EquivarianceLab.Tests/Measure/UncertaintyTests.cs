using EquivarianceLab.Architectures;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;
using TorchSharp;
using static EquivarianceLab.Tests.Probes.ProbeTestFiles;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Measure;

/// <summary>Standard errors and 95% intervals over probe images (docs/measure.md, "Uncertainty").</summary>
public class UncertaintyTests
{
    private static (float[] Data, TensorProbeSet Probe) RandomProbe(int seed, int n, int size)
    {
        var random = new Random(seed);
        var data = Enumerable.Range(0, n * size * size).Select(_ => (float)random.NextDouble()).ToArray();
        return (data, new TensorProbeSet("random", tensor(data, [n, 1, size, size])));
    }

    private static MeasureOptions Rotation => new() { Transform = TransformFamily.Rotation };

    private static TorchFeatureModel LinearModel(int seed) => new("linear-net", new LinearNet(seed), [1, -1, -1]);

    [Fact]
    public void Spatial_layer_with_equal_pair_counts_has_the_standard_error_of_the_per_image_scores()
    {
        // A linear convolution on noise: no channel of any image is degenerate, so every image has C valid pairs for
        // every g, the layer score is the plain mean of the images' own scores, and its SE is sd/√N.
        const int n = 16, size = 10;
        var (data, probe) = RandomProbe(3, n, size);
        using var _ = probe;
        using var model = LinearModel(4);
        var result = EquivarianceMeasure.Run(model, probe, Rotation with { BatchSize = 5 });
        var conv = result.Layers.Single(l => l.Name == "conv");

        // The second implementation: each image measured alone.
        var alone = new List<LayerResult>();
        for (int i = 0; i < n; i++)
        {
            using var one = new TensorProbeSet("one", tensor(data.AsSpan(i * size * size, size * size).ToArray(), [1, 1, size, size]));
            alone.Add(EquivarianceMeasure.Run(model, one, Rotation).Layers.Single(l => l.Name == "conv"));
        }
        Assert.All(alone, l => Assert.Null(l.InvarianceStderr)); // one image: no standard error

        AssertMeanAndStderr(alone.Select(l => l.Invariance!.Value).ToList(), conv.Invariance, conv.InvarianceStderr, "layer invariance");
        AssertMeanAndStderr(alone.Select(l => l.Equivariance!.Value).ToList(), conv.Equivariance, conv.EquivarianceStderr, "layer equivariance");
        foreach (var (key, score) in conv.PerTransform)
        {
            AssertMeanAndStderr(alone.Select(l => l.PerTransform[key].Invariance!.Value).ToList(), score.Invariance, score.InvarianceStderr, $"{key} invariance");
            AssertMeanAndStderr(alone.Select(l => l.PerTransform[key].Equivariance!.Value).ToList(), score.Equivariance, score.EquivarianceStderr, $"{key} equivariance");
        }

        // 95% interval: ± t(0.975, 15)·SE, with t(0.975, 15) = 2.131449546 from tables.
        var interval = conv.InvarianceInterval!.Value;
        Assert.Equal(conv.Invariance!.Value - 2.131449546 * conv.InvarianceStderr!.Value, interval.Low, 8);
        Assert.Equal(conv.Invariance!.Value + 2.131449546 * conv.InvarianceStderr!.Value, interval.High, 8);
        // The part holds this one spatial layer, so it carries the same uncertainty.
        Assert.Equal(conv.InvarianceStderr!.Value, result.Parts["Early"].InvarianceStderr!.Value, 12);
    }

    private static void AssertMeanAndStderr(List<double> perImage, double? score, double? stderr, string what)
    {
        double mean = perImage.Average();
        double sd = Math.Sqrt(perImage.Sum(v => (v - mean) * (v - mean)) / (perImage.Count - 1));
        Assert.True(Math.Abs(mean - score!.Value) < 1e-6, $"{what}: mean of the images {mean}, score {score}");
        double expected = sd / Math.Sqrt(perImage.Count);
        Assert.True(expected > 1e-4, $"{what}: the images' scores should differ (sd {sd})");
        Assert.True(Math.Abs(expected - stderr!.Value) < 1e-5 * expected + 1e-7, $"{what}: sd/√N = {expected}, SE {stderr}");
    }

    [Fact]
    public void Vector_layer_standard_error_agrees_with_a_naive_jackknife_over_images()
    {
        const int n = 60, size = 10;
        var (data, probe) = RandomProbe(5, n, size);
        using var _ = probe;
        using var model = LinearModel(6);
        var result = EquivarianceMeasure.Run(model, probe, Rotation with { BatchSize = 7 });

        // The layer's vectors, by a forward pass on X and on each g·X (g by index arithmetic), in double.
        string[] keys = ["rot90", "rot180", "rot270"];
        var plain = Vectors(model, data, n, size);
        var moved = keys.Select(key =>
        {
            var rotated = new float[data.Length];
            for (int i = 0; i < n; i++)
            {
                var plane = ReferenceMeasure.Transform(data.AsSpan(i * size * size, size * size).ToArray(), size, size, key, size, size);
                for (int j = 0; j < plane.Length; j++) rotated[i * size * size + j] = (float)plane[j];
            }
            return Vectors(model, rotated, n, size);
        }).ToList();

        foreach (var layer in new[] { HookedModule.PoolHook, HookedModule.LogitsHook })
        {
            var measured = result.Layers.Single(l => l.Name == layer);
            // The layer score without image `skip` (−1: all images): mean over g of the mean over channels.
            (double Inv, double Eqv) Score(int skip)
            {
                var keep = Enumerable.Range(0, n).Where(i => i != skip).ToList();
                var perG = moved.Select(m => ChannelMeans(m[layer], plain[layer], keep)).ToList();
                return (perG.Average(s => s.Inv), perG.Average(s => s.Eqv));
            }
            var all = Score(-1);
            MeasureTests.AssertClose(all.Inv, measured.Invariance, $"{layer} invariance");
            var leaveOneOut = Enumerable.Range(0, n).Select(Score).ToList();
            foreach (var (jackknife, stderr, what) in new[]
            {
                (Jackknife(leaveOneOut.Select(s => s.Inv).ToList()), measured.InvarianceStderr!.Value, "invariance"),
                (Jackknife(leaveOneOut.Select(s => s.Eqv).ToList()), measured.EquivarianceStderr!.Value, "equivariance"),
            })
            {
                // The SE is the jackknife linearised (the two agree exactly for a mean); at N = 60 they differ by
                // the correlation's curvature, a few percent.
                Assert.True(jackknife > 1e-3, $"{layer} {what}: jackknife SE {jackknife} should not be trivial");
                Assert.True(Math.Abs(stderr / jackknife - 1) < 0.1, $"{layer} {what}: SE {stderr}, jackknife {jackknife}");
            }
        }
    }

    private static double Jackknife(List<double> leaveOneOut)
    {
        int n = leaveOneOut.Count;
        double mean = leaveOneOut.Average();
        return Math.Sqrt((n - 1.0) / n * leaveOneOut.Sum(v => (v - mean) * (v - mean)));
    }

    /// <summary>Each channel's similarity over the kept images (equivariance: best partner), averaged over channels.</summary>
    private static (double Inv, double Eqv) ChannelMeans(double[][] a, double[][] b, List<int> keep)
    {
        double[] Pick(double[] v) => keep.Select(i => v[i]).ToArray();
        var ak = a.Select(Pick).ToArray();
        var bk = b.Select(Pick).ToArray();
        var inv = new List<double>();
        var eqv = new List<double>();
        for (int c = 0; c < ak.Length; c++)
        {
            if (ReferenceMeasure.S(ak[c], bk[c], pearson: true) is { } s) inv.Add(s);
            var partners = bk.Select(other => ReferenceMeasure.S(ak[c], other, pearson: true)).Where(v => v.HasValue).ToList();
            if (partners.Count > 0) eqv.Add(partners.Max()!.Value);
        }
        return (inv.Average(), eqv.Average());
    }

    /// <summary>Vector layers as channel → values over the images.</summary>
    private static Dictionary<string, double[][]> Vectors(IFeatureModel model, float[] images, int n, int size)
    {
        using var scope = NewDisposeScope();
        var outputs = model.Forward(tensor(images, [n, 1, size, size]));
        var map = new Dictionary<string, double[][]>();
        for (int l = 0; l < model.Layers.Count; l++)
        {
            if (outputs[l].dim() != 2) continue;
            var values = outputs[l].to_type(ScalarType.Float64).contiguous().data<double>().ToArray();
            long channels = outputs[l].shape[1];
            map[model.Layers[l]] = Enumerable.Range(0, (int)channels)
                .Select(c => Enumerable.Range(0, n).Select(i => values[i * channels + c]).ToArray()).ToArray();
        }
        return map;
    }

    [Fact]
    public void Intervals_shrink_by_about_half_when_the_images_grow_fourfold()
    {
        using var model = ModelLoader.Load(Path.Combine(RepositoryRoot(), "models", "cnn7-fmnist6"));
        using var probe = ProbeSetLoader.Open(Path.Combine(RepositoryRoot(), "models", "data", "fashion-mnist", "t10k-images-idx3-ubyte.gz"));
        var small = EquivarianceMeasure.Run(model, probe, Rotation with { Images = 64 });
        var large = EquivarianceMeasure.Run(model, probe, Rotation with { Images = 256 });
        Assert.Equal(["Early", "Middle", "Late", "Pool", "Final"], large.Parts.Keys);
        foreach (var (part, score) in large.Parts)
        {
            var before = small.Parts[part];
            foreach (var (wide, narrow, what) in new[]
            {
                (before.InvarianceInterval!.Value, score.InvarianceInterval!.Value, "invariance"),
                (before.EquivarianceInterval!.Value, score.EquivarianceInterval!.Value, "equivariance"),
            })
            {
                double ratio = (narrow.High - narrow.Low) / (wide.High - wide.Low);
                Assert.True(ratio is > 0.35 and < 0.7, $"{part} {what}: width {wide.High - wide.Low} → {narrow.High - narrow.Low} (×{ratio})");
            }
        }
    }

    [Fact]
    public void An_exactly_invariant_model_has_no_spread()
    {
        const int n = 24, size = 20;
        var (_, probe) = RandomProbe(42, n, size);
        using var __ = probe;
        using var model = ModelLoader.Load("builtin:control-rotation-invariant");
        var result = EquivarianceMeasure.Run(model, probe, Rotation);
        var all = result.Layers.SelectMany(l => l.PerTransform.Values.Append<Uncertainty>(l)).Concat(result.Parts.Values).ToList();
        Assert.Equal(5 * 4 + 5, all.Count);
        foreach (var u in all)
            foreach (var (stderr, interval) in new[] { (u.InvarianceStderr, u.InvarianceInterval), (u.EquivarianceStderr, u.EquivarianceInterval) })
            {
                Assert.InRange(stderr!.Value, 0, 1e-6);
                // [1, 1] up to float32 rounding of the similarities (a score may round above 1; the interval stays in [−1, 1]).
                Assert.InRange(interval!.Value.Low, 1 - 1e-5, 1);
                Assert.InRange(interval.Value.High, 1 - 1e-5, 1);
            }
    }

    [Fact]
    public void Result_json_round_trips_the_uncertainty_under_the_documented_names()
    {
        var (_, probe) = RandomProbe(7, 6, 8);
        using var _ = probe;
        using var model = LinearModel(1);
        var result = EquivarianceMeasure.Run(model, probe, Rotation);
        var json = result.ToJson();
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        var layer = doc.RootElement.GetProperty("layers")[0];
        var elements = new[] { layer, layer.GetProperty("perTransform").GetProperty("rot90"), doc.RootElement.GetProperty("parts").GetProperty("Early") };
        foreach (var element in elements)
            foreach (var score in new[] { "invariance", "equivariance" })
            {
                double value = element.GetProperty(score).GetDouble(), stderr = element.GetProperty(score + "Stderr").GetDouble();
                var interval = element.GetProperty(score + "Interval").EnumerateArray().Select(e => e.GetDouble()).ToArray();
                Assert.Equal(2, interval.Length);
                Assert.True(stderr > 0 && interval[0] < value && value < interval[1], $"{score}: {value} ± {stderr} in [{interval[0]}, {interval[1]}]");
            }

        var back = MeasurementResult.FromJson(json);
        Assert.Equal(result.Layers[0].PerTransform, back.Layers[0].PerTransform);
        Assert.Equal(Fields(result.Layers[0]), Fields(back.Layers[0]));
        Assert.Equal(result.Parts, back.Parts);

        // A result.json from before has none of the fields: they read as null.
        var old = MeasurementResult.FromJson(json.Replace("Stderr\"", "StderrOld\"", StringComparison.Ordinal).Replace("Interval\"", "IntervalOld\"", StringComparison.Ordinal));
        Assert.Null(old.Layers[0].InvarianceStderr);
        Assert.Null(old.Parts["Early"].EquivarianceInterval);
    }

    private static (double?, Interval?, double?, Interval?) Fields(Uncertainty u) =>
        (u.InvarianceStderr, u.InvarianceInterval, u.EquivarianceStderr, u.EquivarianceInterval);

    /// <summary>
    /// A linear convolution (on noise no channel is ever degenerate), its ReLU pooled to a vector, and logits.
    /// </summary>
    private sealed class LinearNet : HookedModule
    {
        private readonly nn.Module<Tensor, Tensor> _conv, _head;

        public LinearNet(int seed) : base("linear-net")
        {
            _conv = nn.Conv2d(1, 5, 3, padding: 1);
            _head = nn.Linear(5, 4);
            SeededWeights.Apply(seed, _conv, _head);
            RegisterComponents();
        }

        public override IReadOnlyList<string> HookPoints => ["conv", PoolHook, LogitsHook];
        public override IReadOnlyList<long> InputShape => [1, -1, -1];

        protected override Tensor Run(Tensor input, HookRecorder? hooks)
        {
            var x = _conv.forward(input);
            hooks?.Record("conv", x);
            var pooled = nn.functional.relu(x).mean([-2L, -1L]);
            hooks?.Record(PoolHook, pooled);
            var logits = _head.forward(pooled);
            hooks?.Record(LogitsHook, logits);
            return logits;
        }
    }
}
