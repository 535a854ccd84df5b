using EquivarianceLab.FeatureModels.Onnx;
using EquivarianceLab.Tests.TestModels;
using Onnx;

namespace EquivarianceLab.Tests.Onnx;

public class OnnxLoadErrorTests
{
    [Fact]
    public void An_unknown_layer_names_close_matches_first_and_the_tensor_count()
    {
        using var dir = new OnnxTempFolder();
        var path = dir.Save(OnnxTestGraphs.ResidualCnn("N"));

        var e = Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(path, ["relu1", "relu9"]));

        Assert.StartsWith("Unknown layer 'relu9' in model.onnx. Layers look like: relu", e.Message);
        Assert.Contains("relu1, relu2, relu3, relu4", e.Message);
        Assert.EndsWith(", … (19 tensors; see --list-layers)", e.Message);
    }

    [Fact]
    public void An_unrelated_unknown_layer_lists_typical_layers()
    {
        using var dir = new OnnxTempFolder();
        var path = dir.Save(OnnxTestGraphs.ResidualCnn("N"));

        var e = Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(path, ["blocks.3.mlp"]));

        Assert.Equal("Unknown layer 'blocks.3.mlp' in model.onnx. Layers look like: relu1, relu2, add1, relu3, relu4, pool, … (19 tensors; see --list-layers)", e.Message);
    }

    [Fact]
    public void A_constant_or_an_initializer_is_not_a_layer()
    {
        using var dir = new OnnxTempFolder();
        var path = dir.Save(OnnxTestGraphs.ResidualCnn("N"));

        Assert.Contains("does not depend on the image", Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(path, ["bias4"])).Message);
        Assert.Contains("Unknown layer 'mean'", Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(path, ["mean"])).Message);
        Assert.Contains("listed twice", Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(path, ["pool", "pool"])).Message);
    }

    [Fact]
    public void A_non_image_input_is_rejected()
    {
        var b = new OnnxGraphBuilder();
        var x = b.Input("x", 1, 784);
        b.Output(b.Relu(x));
        using var dir = new OnnxTempFolder();
        var path = dir.Save(b);

        var e = Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(path));
        Assert.Equal("model.onnx: input 'x' has shape [1,784]; EquivarianceLab needs an image input [N,C,H,W].", e.Message);
    }

    [Fact]
    public void An_integer_input_is_rejected()
    {
        var b = new OnnxGraphBuilder();
        var x = b.Input("x", TensorProto.Types.DataType.Uint8, "N", 3, 8, 8);
        b.Output(b.Node("Cast", [x], "cast", OnnxGraphBuilder.Int("to", 1)));
        using var dir = new OnnxTempFolder();

        var e = Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(dir.Save(b)));
        Assert.Equal("model.onnx: input 'x' is uint8; EquivarianceLab needs a float32 image input [N,C,H,W].", e.Message);
    }

    [Fact]
    public void A_text_file_renamed_onnx_is_not_an_onnx_model()
    {
        using var dir = new OnnxTempFolder();
        var path = dir.File("notes.onnx");
        File.WriteAllText(path, "These are my notes about the model, not the model.\nSecond line.\n");

        var e = Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(path));
        Assert.StartsWith("notes.onnx is not an ONNX model", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(0.9)]
    [InlineData(0.99)]
    public void A_truncated_onnx_file_is_a_clear_error(double fraction)
    {
        using var dir = new OnnxTempFolder();
        var bytes = OnnxTestGraphs.ResidualCnn("N").ToBytes();
        var path = dir.File("cut.onnx");
        File.WriteAllBytes(path, bytes[..(int)(bytes.Length * fraction)]);

        var e = Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(path));
        Assert.StartsWith("cut.onnx ", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void An_empty_file_and_a_missing_file_are_clear_errors()
    {
        using var dir = new OnnxTempFolder();
        var empty = dir.File("empty.onnx");
        File.WriteAllBytes(empty, []);

        Assert.Equal("empty.onnx is not an ONNX model (no graph found in it).",
            Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(empty)).Message);
        var missing = dir.File("missing.onnx");
        // The file name, never the server path.
        Assert.Equal("Model file missing.onnx not found.", Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(missing)).Message);
    }

    [Fact]
    public void A_graph_onnx_runtime_rejects_is_a_clear_error()
    {
        var b = new OnnxGraphBuilder();
        var x = b.Input("x", "N", 3, 8, 8);
        b.Output(b.Conv(x, new float[4 * 2 * 9], [4, 2, 3, 3])); // weights for 2 input channels, input has 3
        using var dir = new OnnxTempFolder();

        var e = Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(dir.Save(b)));
        Assert.StartsWith("model.onnx", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_probe_or_batch_that_does_not_fit_fixed_input_dims_names_both_shapes()
    {
        using var dir = new OnnxTempFolder();
        var path = dir.Save(OnnxTestGraphs.ResidualCnn("N"));

        var load = Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(path, options: new OnnxLoadOptions { ProbeShape = [1, 28, 28] }));
        Assert.Equal("model.onnx takes input [3,8,8] (C,H,W) but the probe is [1,28,28].", load.Message);

        using var model = OnnxFeatureModel.Load(path);
        using var images = OnnxTestGraphs.Images(2, 3, 9, 9);
        var forward = Assert.Throws<EquivarianceLabException>(() => model.Forward(images));
        Assert.Equal("model.onnx takes input [3,8,8] (C,H,W) but the batch is [3,9,9].", forward.Message);
    }
}
