using EquivarianceLab.FeatureModels;
using EquivarianceLab.FeatureModels.Onnx;
using EquivarianceLab.Tests.TestModels;
using TorchSharp;

namespace EquivarianceLab.Tests.Onnx;

public class OnnxForwardTests
{
    [Fact]
    public void A_1x1_convolution_gives_the_hand_computed_features()
    {
        // y0 = x0 + 2·x1 + 0.5, y1 = −x0 + 0.5·x1 − 1, then Relu.
        var b = new OnnxGraphBuilder();
        var x = b.Input("x", "N", 2, 2, 2);
        var y = b.Conv(x, [1, 2, -1, 0.5f], [2, 2, 1, 1], [0.5f, -1], output: "conv");
        b.Output(b.Relu(y, "relu"));
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(b), ["conv", "relu"]);

        float[] image = [1, 2, 3, 4, /* channel 1 */ 0, -1, 2, -3];
        using var batch = torch.tensor([.. image, .. image.Select(v => -2 * v)], [2, 2, 2, 2]);
        float[] conv = [1.5f, 0.5f, 7.5f, -1.5f, -2, -3.5f, -3, -6.5f, /* image 2 */ -1.5f, 0.5f, -13.5f, 4.5f, 1, 4, 3, 10];
        float[] relu = conv.Select(v => Math.Max(v, 0)).ToArray();

        // The first run copies ONNX Runtime's outputs; later runs (any batch size) have it write into the results.
        for (var run = 0; run < 2; run++)
        {
            using var features = new Features(model.Forward(batch));
            Assert.Equal([2L, 2, 2, 2], features[0].shape);
            Assert.Equal(conv, OnnxTestGraphs.Values(features[0]));
            Assert.Equal(relu, OnnxTestGraphs.Values(features[1]));
        }
        using var second = batch.narrow(0, 1, 1);
        using var single = new Features(model.Forward(second));
        Assert.Equal([1L, 2, 2, 2], single[1].shape);
        Assert.Equal(relu[8..], OnnxTestGraphs.Values(single[1]));
    }

    [Fact]
    public void A_fixed_batch_of_1_is_made_free_and_gives_the_same_features_as_a_symbolic_batch()
    {
        using var dir = new OnnxTempFolder();
        using var free = OnnxFeatureModel.Load(dir.Save(OnnxTestGraphs.ResidualCnn("N"), "free.onnx"));
        using var fixedOne = OnnxFeatureModel.Load(dir.Save(OnnxTestGraphs.ResidualCnn(1), "fixed.onnx"));

        Assert.Equal(OnnxBatchMode.Batched, fixedOne.BatchMode);
        Assert.Equal(free.Layers, fixedOne.Layers);
        AssertSameFeatures(free, fixedOne, OnnxTestGraphs.Images(3, 3, 8, 8), tolerance: 0);
    }

    [Fact]
    public void A_fixed_batch_that_cannot_be_freed_runs_image_by_image()
    {
        using var dir = new OnnxTempFolder();
        using var free = OnnxFeatureModel.Load(dir.Save(OnnxTestGraphs.ResidualCnn("N"), "free.onnx"));
        // Reshape to a hard-coded [1, 4]: a batch of 2 fails, so the graph must run per image.
        using var reshaped = OnnxFeatureModel.Load(dir.Save(OnnxTestGraphs.ResidualCnn(1, hardCodedReshape: true), "reshape.onnx"));

        Assert.Equal(OnnxBatchMode.PerImage, reshaped.BatchMode);
        Assert.Equal(OnnxTestGraphs.ResidualCnnDefaults, reshaped.Layers);
        AssertSameFeatures(free, reshaped, OnnxTestGraphs.Images(3, 3, 8, 8), tolerance: 1e-5);
    }

    [Fact]
    public void Forcing_per_image_runs_gives_the_batched_features()
    {
        using var dir = new OnnxTempFolder();
        var path = dir.Save(OnnxTestGraphs.ResidualCnn("N"));
        using var batched = OnnxFeatureModel.Load(path);
        using var perImage = OnnxFeatureModel.Load(path, options: new OnnxLoadOptions { ForcePerImage = true });

        Assert.Equal(OnnxBatchMode.PerImage, perImage.BatchMode);
        AssertSameFeatures(batched, perImage, OnnxTestGraphs.Images(4, 3, 8, 8), tolerance: 1e-5);
    }

    [Fact]
    public void An_opset_8_graph_loads_and_matches_the_opset_13_one()
    {
        using var dir = new OnnxTempFolder();
        using var modern = OnnxFeatureModel.Load(dir.Save(OnnxTestGraphs.ResidualCnn("N", softmax: true), "13.onnx"));
        using var old = OnnxFeatureModel.Load(dir.Save(OnnxTestGraphs.ResidualCnn(1, softmax: true, opset: 8), "8.onnx"));

        Assert.Equal(modern.Layers, old.Layers);
        AssertSameFeatures(modern, old, OnnxTestGraphs.Images(2, 3, 8, 8), tolerance: 1e-6);
    }

    [Fact]
    public void Symbolic_spatial_dims_follow_the_probe_shape_and_any_input_size_runs()
    {
        var b = new OnnxGraphBuilder();
        var x = b.Input("x", "N", 1, "H", "W");
        var act = b.Relu(b.Conv(x, [1, -1, 0.5f, 2], [1, 1, 2, 2], strides: [2], output: "conv"), "act");
        b.Output(b.GlobalAveragePool(act, "gap"));
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(b), options: new OnnxLoadOptions { ProbeShape = [1, 28, 28] });

        Assert.Equal([1L, -1, -1], model.InputShape);
        Assert.Equal([1L, 14, 14], model.TensorShapes["act"]);
        using var images = OnnxTestGraphs.Images(2, 1, 10, 6);
        using var features = new Features(model.Forward(images));
        Assert.Equal([2L, 1, 5, 3], features[0].shape);
    }

    [Fact]
    public void A_non_contiguous_batch_is_accepted()
    {
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(OnnxTestGraphs.ResidualCnn("N")));
        using var images = OnnxTestGraphs.Images(2, 3, 8, 8);
        using var transposed = images.transpose(2, 3);
        using var copy = transposed.contiguous();
        Assert.False(transposed.is_contiguous());

        using var a = new Features(model.Forward(transposed));
        using var b = new Features(model.Forward(copy));
        for (var i = 0; i < a.Tensors.Count; i++) Assert.Equal(OnnxTestGraphs.Values(b[i]), OnnxTestGraphs.Values(a[i]));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Layers_written_into_kept_buffers_equal_fresh_ones_and_reuse_the_same_storage(bool perImage)
    {
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(OnnxTestGraphs.ResidualCnn("N")), options: new OnnxLoadOptions { ForcePerImage = perImage });
        using var first = OnnxTestGraphs.Images(4, 3, 8, 8, seed: 3);
        using var second = OnnxTestGraphs.Images(4, 3, 8, 8, seed: 5);
        using var smaller = second.narrow(0, 1, 3);
        using var larger = OnnxTestGraphs.Images(6, 3, 8, 8, seed: 7);
        using var buffers = new FeatureBuffers();

        // The first batch of a size learns the shapes (ONNX Runtime's own outputs, copied); the buffers serve the rest.
        using (new Features(model.Forward(first, buffers))) { }
        using var a = new Features(model.Forward(first, buffers));
        AssertEqualValues(model.Forward(first), a);
        var firstValues = a.Tensors.Select(OnnxTestGraphs.Values).ToArray();

        // The next batch lands in the same storage: what the last call returned now holds the new batch's layers.
        using var b = new Features(model.Forward(second, buffers));
        AssertEqualValues(model.Forward(second), b);
        AssertEqualValues(model.Forward(second), a);

        // A smaller last batch uses the first rows; a larger one gets storage of its own and leaves the old views alone.
        using var c = new Features(model.Forward(smaller, buffers));
        Assert.Equal(3, c[0].shape[0]);
        AssertEqualValues(model.Forward(smaller), c);
        using (new Features(model.Forward(first, buffers))) { }
        using var d = new Features(model.Forward(larger, buffers));
        AssertEqualValues(model.Forward(larger), d);
        for (var i = 0; i < a.Count; i++) Assert.Equal(firstValues[i], OnnxTestGraphs.Values(a[i]));
    }

    private static void AssertEqualValues(IReadOnlyList<torch.Tensor> expected, Features actual)
    {
        using var e = new Features(expected);
        Assert.Equal(e.Count, actual.Count);
        for (var i = 0; i < e.Count; i++)
        {
            Assert.Equal(e[i].shape, actual[i].shape);
            Assert.Equal(OnnxTestGraphs.Values(e[i]), OnnxTestGraphs.Values(actual[i]));
        }
    }

    /// <summary>
    /// Same layers and values. <paramref name="actual"/> runs twice: the first batch of a size is copied out of
    /// ONNX Runtime's buffers, later ones are written straight into the result tensors.
    /// </summary>
    internal static void AssertSameFeatures(OnnxFeatureModel expected, OnnxFeatureModel actual, torch.Tensor images, double tolerance)
    {
        using (images)
        using (var a = new Features(expected.Forward(images)))
        {
            for (var run = 0; run < 2; run++)
            {
                using var b = new Features(actual.Forward(images));
                Assert.Equal(a.Count, b.Count);
                for (var i = 0; i < a.Count; i++)
                {
                    Assert.Equal(a[i].shape, b[i].shape);
                    var x = OnnxTestGraphs.Values(a[i]);
                    var y = OnnxTestGraphs.Values(b[i]);
                    for (var j = 0; j < x.Length; j++)
                        Assert.True(Math.Abs(x[j] - y[j]) <= tolerance, $"run {run}, layer {expected.Layers[i]}[{j}]: {x[j]} vs {y[j]}");
                }
            }
        }
    }
}

public class OnnxExternalDataTests
{
    [Fact]
    public void Weights_in_an_external_data_file_beside_the_model_are_found()
    {
        // 1×1 conv doubling one channel, its weight stored in weights.bin as ONNX external data.
        var b = new OnnxGraphBuilder();
        var x = b.Input("x", "N", 1, 2, 2);
        b.Output(b.Conv(x, [2f], [1, 1, 1, 1], output: "conv"));
        var model = b.Build();
        var weight = model.Graph.Initializer.Single(t => t.Name == "conv.weight");
        weight.FloatData.Clear();
        weight.DataLocation = global::Onnx.TensorProto.Types.DataLocation.External;
        weight.ExternalData.Add(new global::Onnx.StringStringEntryProto { Key = "location", Value = "weights.bin" });
        weight.ExternalData.Add(new global::Onnx.StringStringEntryProto { Key = "offset", Value = "0" });
        weight.ExternalData.Add(new global::Onnx.StringStringEntryProto { Key = "length", Value = "4" });
        using var dir = new OnnxTempFolder();
        File.WriteAllBytes(dir.File("weights.bin"), BitConverter.GetBytes(2f));
        File.WriteAllBytes(dir.File("model.onnx"), Google.Protobuf.MessageExtensions.ToByteArray(model));

        using var loaded = OnnxFeatureModel.Load(dir.File("model.onnx"), ["conv"]);
        using var images = torch.tensor(new float[] { 1, 2, 3, 4 }, [1, 1, 2, 2]);
        using var features = new Features(loaded.Forward(images));
        Assert.Equal([2f, 4, 6, 8], OnnxTestGraphs.Values(features[0]));
    }
}

public class OnnxInitializerInputTests
{
    [Theory]
    [InlineData(8)]
    [InlineData(13)]
    public void Initializers_listed_as_graph_inputs_are_weights_not_inputs(int opset)
    {
        // Old exporters list every initializer as a graph input too (required before IR 4).
        var builder = OnnxTestGraphs.ResidualCnn(1, opset: opset);
        var model = builder.Build();
        foreach (var t in model.Graph.Initializer)
        {
            var type = new global::Onnx.TypeProto.Types.Tensor { ElemType = t.DataType, Shape = new global::Onnx.TensorShapeProto() };
            foreach (var d in t.Dims) type.Shape.Dim.Add(new global::Onnx.TensorShapeProto.Types.Dimension { DimValue = d });
            model.Graph.Input.Add(new global::Onnx.ValueInfoProto { Name = t.Name, Type = new global::Onnx.TypeProto { TensorType = type } });
        }
        using var dir = new OnnxTempFolder();
        File.WriteAllBytes(dir.File("inputs.onnx"), Google.Protobuf.MessageExtensions.ToByteArray(model));
        using var plain = OnnxFeatureModel.Load(dir.Save(builder, "plain.onnx"));
        using var listed = OnnxFeatureModel.Load(dir.File("inputs.onnx"));

        Assert.Equal("x", listed.InputName);
        Assert.Equal(OnnxBatchMode.Batched, listed.BatchMode);
        OnnxForwardTests.AssertSameFeatures(plain, listed, OnnxTestGraphs.Images(2, 3, 8, 8), tolerance: 1e-6);
    }
}
