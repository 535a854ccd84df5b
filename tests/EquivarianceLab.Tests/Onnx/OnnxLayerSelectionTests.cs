using EquivarianceLab.FeatureModels.Onnx;
using EquivarianceLab.Tests.TestModels;

namespace EquivarianceLab.Tests.Onnx;

public class OnnxLayerSelectionTests
{
    [Fact]
    public void Default_layers_are_spatial_activations_and_residual_adds_then_pool_then_logits()
    {
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(OnnxTestGraphs.ResidualCnn("N")));

        // Not: the input normalisation Add (initializer), se_pool and se_gate (vectors before the last spatial
        // layer), bias_add (a Constant input), maxpool and convs (not activations).
        Assert.Equal(OnnxTestGraphs.ResidualCnnDefaults, model.Layers);
        Assert.Equal("logits", model.LogitsLayer);
        Assert.Equal("x", model.InputName);
        Assert.Equal([3L, 8, 8], model.InputShape);
        Assert.Equal(OnnxBatchMode.Batched, model.BatchMode);
    }

    [Fact]
    public void A_graph_ending_in_softmax_measures_the_softmax_input_as_logits()
    {
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(OnnxTestGraphs.ResidualCnn("N", softmax: true)));

        Assert.Equal(OnnxTestGraphs.ResidualCnnDefaults, model.Layers);
        Assert.Equal("logits", model.LogitsLayer);
        Assert.DoesNotContain("probs", model.Layers);
    }

    [Fact]
    public void Available_tensors_are_the_computed_float_tensors_in_node_order()
    {
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(OnnxTestGraphs.ResidualCnn("N")));

        Assert.Equal(
            ["normalize", "conv1", "relu1", "conv2", "relu2", "conv3", "add1", "relu3", "maxpool", "se_pool", "se_conv",
             "se_gate", "se_scale", "conv4", "bias_add", "relu4", "pool", "flat", "logits"],
            model.AvailableTensors);
        Assert.DoesNotContain("bias4", model.AvailableTensors); // a Constant node's output does not depend on the image
        Assert.Equal([4L, 4, 4], model.TensorShapes["se_scale"]);
        Assert.Equal([4L, 1, 1], model.TensorShapes["pool"]);
    }

    [Fact]
    public void Explicit_layers_keep_the_order_given_and_logits_only_when_asked_for()
    {
        using var dir = new OnnxTempFolder();
        var path = dir.Save(OnnxTestGraphs.ResidualCnn("N"));

        using (var model = OnnxFeatureModel.Load(path, ["relu3", "conv1", "se_gate"]))
        {
            Assert.Equal(["relu3", "conv1", "se_gate"], model.Layers);
            Assert.Null(model.LogitsLayer);
            Assert.Equal(OnnxTestGraphs.ResidualCnnDefaults, model.DefaultLayers);
            using var images = OnnxTestGraphs.Images(2, 3, 8, 8);
            using var features = new Features(model.Forward(images));
            Assert.Equal([2L, 4, 8, 8], features[0].shape);
            Assert.Equal([2L, 4, 8, 8], features[1].shape);
            Assert.Equal([2L, 4, 1, 1], features[2].shape);
        }

        using (var model = OnnxFeatureModel.Load(path, ["logits", "relu1"]))
        {
            Assert.Equal(["logits", "relu1"], model.Layers);
            Assert.Equal("logits", model.LogitsLayer);
        }
    }

    [Fact]
    public void Token_shaped_layers_with_a_class_token_are_selected_and_the_class_token_is_the_pool()
    {
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(OnnxTestGraphs.TinyTransformer()));

        Assert.Equal([5L, 8], model.TensorShapes["mlp_act"]); // [N,5,D]: class token + a 2×2 grid
        // Not: embedded (adds a position embedding, not a computed tensor), final_norm (not an activation or residual).
        Assert.Equal(["mlp_act", "residual", "cls_token", "head"], model.Layers);
        Assert.Equal("head", model.LogitsLayer);
        Assert.DoesNotContain("pos_expanded", model.AvailableTensors);
    }

    [Fact]
    public void A_featurizer_whose_output_is_the_pool_has_no_logits()
    {
        var b = new OnnxGraphBuilder();
        var x = b.Input("x", "N", 1, 6, 6);
        var r = b.Relu(b.Conv(x, Enumerable.Repeat(0.1f, 2 * 9).ToArray(), [2, 1, 3, 3], output: "conv"), "act");
        b.Output(b.GlobalAveragePool(r, "features"));
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(b));

        Assert.Equal(["act", "features"], model.Layers);
        Assert.Null(model.LogitsLayer);
    }

    [Fact]
    public void Activations_on_vectors_are_not_selected()
    {
        // An MLP head after the pool: the Relu on [N,C] comes after the pool, the pool is still GlobalAveragePool.
        var b = new OnnxGraphBuilder();
        var x = b.Input("x", "N", 1, 4, 4);
        var act = b.Relu(b.Conv(x, Enumerable.Repeat(0.2f, 3 * 4).ToArray(), [3, 1, 2, 2], output: "conv"), "act");
        var pool = b.Flatten(b.GlobalAveragePool(act, "gap"), output: "gap_flat");
        var hidden = b.Relu(b.Gemm(pool, Enumerable.Repeat(0.1f, 9).ToArray(), 3, 3, output: "fc"), "fc_act");
        b.Output(b.Gemm(hidden, Enumerable.Repeat(0.1f, 6).ToArray(), 2, 3, output: "out"));
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(b));

        Assert.Equal(["act", "gap", "out"], model.Layers);
        Assert.Equal("out", model.LogitsLayer);
    }
}
