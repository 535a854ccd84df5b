using EquivarianceLab.FeatureModels;
using EquivarianceLab.FeatureModels.Onnx;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;
using EquivarianceLab.Tests.TestModels;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Equivalence;

/// <summary>
/// Issue 2 item 6: the same network as a TorchSharp module and as an ONNX graph (written here, with the module's
/// exact weights) gives the same scores, layer by layer and transform by transform; and a graph with a fixed batch
/// of 1 gives the same numbers as its dynamic-batch twin.
/// </summary>
public sealed class TorchOnnxEquivalenceTests : IDisposable
{
    private const int Images = 10;
    private const double Tolerance = 1e-4;
    private static readonly long[] ProbeShape = [EquivalenceNet.InChannels, EquivalenceNet.Size, EquivalenceNet.Size];

    private readonly string _folder = Directory.CreateTempSubdirectory("eqlab-equivalence-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); }
        catch (IOException) { }
    }

    private static TensorProbeSet Probe(int seed = 21)
    {
        var random = new Random(seed);
        var data = new float[Images * ProbeShape[0] * ProbeShape[1] * ProbeShape[2]];
        for (var i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
        return new TensorProbeSet("random", tensor(data, [Images, .. ProbeShape]));
    }

    private OnnxFeatureModel SaveAndLoad(OnnxGraphBuilder graph, string name) =>
        OnnxFeatureModel.Load(graph.Save(Path.Combine(_folder, name)), null, new OnnxLoadOptions { ProbeShape = ProbeShape });

    [Theory]
    [InlineData("rotation", true)]
    [InlineData("rotation", false)]
    [InlineData("translation", true)]
    [InlineData("translation", false)]
    [InlineData("flip", true)]
    [InlineData("flip", false)]
    public void The_TorchSharp_module_and_its_ONNX_graph_give_the_same_scores(string family, bool pearson)
    {
        var net = new EquivalenceNet(seed: 5);
        using var torchModel = new TorchFeatureModel("equivalence-net", net, ProbeShape);
        using var onnxModel = SaveAndLoad(net.ToOnnx("N"), "net.onnx");
        using var probe = Probe();
        var options = new MeasureOptions
        {
            Transform = MeasureNames.ParseTransform(family),
            Similarity = pearson ? SimilarityKind.Pearson : SimilarityKind.Cosine,
            MaxShift = 4,
            BatchSize = 4, // 10 images: two full batches and a partial one
        };

        var fromTorch = EquivarianceMeasure.Run(torchModel, probe, options);
        var fromOnnx = EquivarianceMeasure.Run(onnxModel, probe, options);

        Assert.Equal(EquivalenceNet.Hooks, fromTorch.Layers.Select(l => l.Name));
        Assert.Equal(EquivalenceNet.OnnxNames.Select(n => n.Onnx), fromOnnx.Layers.Select(l => l.Name));
        Assert.Equal(Images, fromTorch.Images);
        Assert.Equal(Images, fromOnnx.Images);
        var expectedKeys = family switch
        {
            "rotation" => new[] { "rot90", "rot180", "rot270" },
            "translation" => ["shift1", "shift2", "shift3", "shift4"],
            _ => ["flip"],
        };
        for (var l = 0; l < fromTorch.Layers.Count; l++)
        {
            LayerResult t = fromTorch.Layers[l], o = fromOnnx.Layers[l];
            var where = $"{t.Name} / {o.Name} ({family}, {(pearson ? "pearson" : "cosine")})";
            Assert.Equal(t.Part, o.Part);
            Assert.Equal(t.Index, o.Index);
            Assert.Equal(Product(t.Shape), Product(o.Shape)); // [8] and [8,1,1] are the same pooled vector
            Assert.Equal(expectedKeys, t.PerTransform.Keys);
            Assert.Equal(expectedKeys, o.PerTransform.Keys);
            foreach (var key in expectedKeys)
            {
                Assert.NotNull(t.PerTransform[key].Invariance); // a measurement, not an empty comparison
                AssertClose(t.PerTransform[key].Invariance, o.PerTransform[key].Invariance, $"{where} {key} invariance");
                AssertClose(t.PerTransform[key].Equivariance, o.PerTransform[key].Equivariance, $"{where} {key} equivariance");
            }
            AssertClose(t.Invariance, o.Invariance, $"{where} mean invariance");
            AssertClose(t.Equivariance, o.Equivariance, $"{where} mean equivariance");
        }

        Assert.Equal([Parts.Early, Parts.Middle, Parts.Late, Parts.Pool, Parts.Final], fromTorch.Parts.Keys.Order(PartOrder.Instance));
        Assert.Equal(fromTorch.Parts.Keys.Order(PartOrder.Instance), fromOnnx.Parts.Keys.Order(PartOrder.Instance));
        foreach (var (part, t) in fromTorch.Parts)
        {
            var o = fromOnnx.Parts[part];
            Assert.Equal(t.Layers, o.Layers);
            AssertClose(t.Invariance, o.Invariance, $"part {part} invariance");
            AssertClose(t.Equivariance, o.Equivariance, $"part {part} equivariance");
        }
    }

    [Fact]
    public void The_ONNX_default_selection_maps_to_the_TorchSharp_hook_points_with_the_Softmax_input_as_logits()
    {
        var net = new EquivalenceNet(seed: 5);
        using var torchModel = new TorchFeatureModel("equivalence-net", net, ProbeShape);
        using var onnxModel = SaveAndLoad(net.ToOnnx("N"), "net.onnx");

        // Three Relu outputs, the GlobalAveragePool output and the Softmax's input; not Flatten, not the Softmax.
        Assert.Equal(EquivalenceNet.OnnxNames.Select(n => n.Onnx), onnxModel.DefaultLayers);
        Assert.Equal(onnxModel.DefaultLayers, onnxModel.Layers);
        Assert.Equal("fc", onnxModel.LogitsLayer);
        Assert.Equal(EquivalenceNet.Hooks, torchModel.Layers);
        Assert.Equal("logits", torchModel.LogitsLayer);

        // And each pair carries the same tensor: the weights were copied exactly.
        using var scope = NewDisposeScope();
        using var probe = Probe();
        var batch = probe.ReadBatch(0, Images);
        var fromTorch = torchModel.Forward(batch);
        var fromOnnx = onnxModel.Forward(batch);
        for (var l = 0; l < EquivalenceNet.Hooks.Count; l++)
        {
            var t = fromTorch[l].reshape(Images, -1);
            var o = fromOnnx[l].reshape(Images, -1);
            Assert.Equal(t.shape, o.shape);
            var diff = (t - o).abs().max().item<float>();
            Assert.True(diff < 1e-5, $"{EquivalenceNet.Hooks[l]}: max |torch − onnx| = {diff}");
            Assert.True(t.abs().max().item<float>() > 0, $"{EquivalenceNet.Hooks[l]} is all zeros");
        }
    }

    [Theory]
    [InlineData(false, OnnxBatchMode.Batched)]
    [InlineData(true, OnnxBatchMode.PerImage)]
    public void A_fixed_batch_of_1_graph_gives_the_same_numbers_as_its_dynamic_batch_twin(bool hardCodedReshape, OnnxBatchMode mode)
    {
        var net = new EquivalenceNet(seed: 9);
        using var dynamic = SaveAndLoad(net.ToOnnx("N"), "dynamic.onnx");
        using var fixedOne = SaveAndLoad(net.ToOnnx(1, hardCodedReshape), "fixed.onnx");
        net.Dispose();
        using var probe = Probe(seed: 4);

        Assert.Equal(OnnxBatchMode.Batched, dynamic.BatchMode);
        Assert.Equal(mode, fixedOne.BatchMode);
        Assert.Equal(dynamic.Layers, fixedOne.Layers);
        Assert.Equal(dynamic.LogitsLayer, fixedOne.LogitsLayer);

        foreach (var family in new[] { TransformFamily.Rotation, TransformFamily.Translation })
        {
            var options = new MeasureOptions { Transform = family, MaxShift = 4, BatchSize = 4 };
            var a = EquivarianceMeasure.Run(dynamic, probe, options);
            var b = EquivarianceMeasure.Run(fixedOne, probe, options);
            Assert.Equal(a.Layers.Select(l => (l.Name, l.Part, l.Index)), b.Layers.Select(l => (l.Name, l.Part, l.Index)));
            foreach (var (x, y) in a.Layers.Zip(b.Layers))
            {
                Assert.Equal(x.Shape, y.Shape);
                Assert.Equal(x.PerTransform.Keys, y.PerTransform.Keys);
                foreach (var key in x.PerTransform.Keys)
                {
                    AssertClose(x.PerTransform[key].Invariance, y.PerTransform[key].Invariance, $"{x.Name} {key} invariance", 1e-6);
                    AssertClose(x.PerTransform[key].Equivariance, y.PerTransform[key].Equivariance, $"{x.Name} {key} equivariance", 1e-6);
                }
            }
            Assert.Equal(a.Parts.Keys, b.Parts.Keys);
            foreach (var (part, s) in a.Parts)
            {
                AssertClose(s.Invariance, b.Parts[part].Invariance, $"part {part} invariance", 1e-6);
                AssertClose(s.Equivariance, b.Parts[part].Equivariance, $"part {part} equivariance", 1e-6);
            }
        }
    }

    private static long Product(long[] shape) => shape.Aggregate(1L, (a, b) => a * b);

    private static void AssertClose(double? expected, double? actual, string what, double tolerance = Tolerance)
    {
        Assert.True(expected.HasValue == actual.HasValue, $"{what}: {expected?.ToString() ?? "null"} vs {actual?.ToString() ?? "null"}");
        if (expected is { } e && actual is { } a)
            Assert.True(Math.Abs(e - a) <= tolerance, $"{what}: TorchSharp {e:R} vs ONNX {a:R} (|Δ| = {Math.Abs(e - a):E2})");
    }

    private sealed class PartOrder : IComparer<string>
    {
        public static readonly PartOrder Instance = new();
        public int Compare(string? x, string? y) => IndexOf(x).CompareTo(IndexOf(y));
        private static int IndexOf(string? part) => part is null ? -1 : Parts.All.ToList().IndexOf(part);
    }
}
