using EquivarianceLab.FeatureModels;
using EquivarianceLab.FeatureModels.Onnx;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;
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

    // ---- a P4 group CNN (TestModels/P4Network.cs) ----

    [Fact]
    public void In_a_P4_network_the_pool_is_the_reduction_before_the_classifier_and_the_group_pool_is_a_spatial_layer()
    {
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(P4Network.Build()));

        // Not se_pool: a ReduceMean to [N,C,1,1] inside the squeeze-and-excitation block, after the last activation.
        // group_pool ([N,2,4,8,8] → [N,2,8,8]) is neither an activation nor a residual Add, but a spatial layer.
        Assert.Equal(["lift_relu", "gconv_relu", "group_pool", "pool", "logits"], model.Layers);
        Assert.Equal("logits", model.LogitsLayer);
        Assert.Equal([2L, 4, 8, 8], model.TensorShapes["group_view"]);
        Assert.Equal([2L, 8, 8], model.TensorShapes["group_pool"]);
    }

    [Fact]
    public void A_group_pool_that_keeps_its_axis_is_selected_where_a_reshape_drops_it()
    {
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(P4Network.Build(keepDims: true)));

        Assert.Equal([2L, 1, 8, 8], model.TensorShapes["group_mean"]);
        Assert.Equal(["lift_relu", "gconv_relu", "group_pool", "pool", "logits"], model.Layers);
    }

    [Fact]
    public void Pooling_space_then_orientations_makes_the_orientation_pool_the_pool()
    {
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(P4Network.Build(groupPoolLast: true)));

        // space_pool [N,8,1,1] is a vector too, but invariant ([N,8] → max over orientations → [N,2]) feeds the head.
        Assert.Equal(["lift_relu", "gconv_relu", "invariant", "logits"], model.Layers);
        Assert.Equal([2L], model.TensorShapes["invariant"]);
    }

    [Fact]
    public void A_layer_called_logits_listed_explicitly_is_final_when_the_output_does_not_come_straight_from_it()
    {
        using var dir = new OnnxTempFolder();
        var path = dir.Save(P4Network.Build(temperature: true));
        using (var byDefault = OnnxFeatureModel.Load(path))
        {
            // The graph's own logits: the Softmax input, here the logits divided by a temperature.
            Assert.Equal("scaled", byDefault.LogitsLayer);
            Assert.DoesNotContain("logits", byDefault.Layers);
        }

        using var model = OnnxFeatureModel.Load(path, ["gconv_relu", "pool", "logits"]);
        Assert.Null(model.LogitsLayer);
        var result = Measure(model, images: 3);
        Assert.Equal(["Early", "Pool", "Final"], result.Layers.Select(l => l.Part));
        Assert.Equal(["Early", "Pool", "Final"], result.Parts.Keys);
    }

    [Fact]
    public void A_named_logits_tensor_replaces_the_graphs_own_in_the_default_selection()
    {
        using var dir = new OnnxTempFolder();
        var path = dir.Save(P4Network.Build(temperature: true));
        using (var model = OnnxFeatureModel.Load(path, options: new OnnxLoadOptions { Logits = "logits" }))
        {
            Assert.Equal(["lift_relu", "gconv_relu", "group_pool", "pool", "logits"], model.Layers);
            Assert.Equal("logits", model.LogitsLayer);
        }
        using (var model = OnnxFeatureModel.Load(path, ["group_pool", "flat"], new OnnxLoadOptions { Logits = "flat" }))
            Assert.Equal("flat", model.LogitsLayer);

        var notMeasured = Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(path, ["group_pool"], new OnnxLoadOptions { Logits = "logits" }));
        Assert.Equal("The logits tensor 'logits' is not one of the layers to measure; add it to --layers.", notMeasured.Message);
        var unknown = Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(path, options: new OnnxLoadOptions { Logits = "logitz" }));
        Assert.StartsWith("Unknown layer 'logitz'", unknown.Message);
    }

    [Fact]
    public void The_models_output_listed_without_the_softmax_input_is_final()
    {
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(P4Network.Build()), ["gconv_relu", "probs"]);
        Assert.Equal("probs", model.LogitsLayer);
    }

    [Fact]
    public void The_P4_networks_lifted_group_conv_and_group_pooled_maps_are_exactly_rot90_equivariant()
    {
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(P4Network.Build()));
        var result = Measure(model, images: 4);

        foreach (var name in new[] { "lift_relu", "gconv_relu", "group_pool" })
        {
            var layer = result.Layers.Single(l => l.Name == name);
            Assert.Equal(["rot90", "rot180", "rot270"], layer.PerTransform.Keys);
            Assert.All(layer.PerTransform.Values, s => Assert.Equal(1.0, s.Equivariance!.Value, 5));
        }
        // Pooled over space and orientations, the head's input is invariant.
        Assert.Equal(1.0, result.Layers.Single(l => l.Name == "pool").Invariance!.Value, 5);

        // The measure can tell: an ordinary CNN's random filters are not rotation-equivariant.
        using var plain = OnnxFeatureModel.Load(dir.Save(OnnxTestGraphs.ResidualCnn("N"), "plain.onnx"));
        Assert.True(Measure(plain, images: 4).Layers.Single(l => l.Name == "relu2").Equivariance < 0.99);
    }

    [Fact]
    public void The_layer_listing_gives_every_measurable_tensor_its_shape_op_and_default_part()
    {
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(P4Network.Build()));
        var listing = LayerListing.Of(model);

        // group_view and group_mean-like 5-d tensors are not measurable, so they are not listed.
        Assert.Equal(
            ["lift", "lift_relu", "gconv", "gconv_relu", "group_pool", "se_pool", "se_gate", "se_scale", "pool", "flat", "logits", "probs"],
            listing.Select(l => l.Name));
        var selected = listing.Where(l => l.Default).ToDictionary(l => l.Name);
        Assert.Equal(["lift_relu", "gconv_relu", "group_pool", "pool", "logits"], selected.Keys);
        Assert.Equal(["Early", "Middle", "Late", "Pool", "Final"], selected.Values.Select(l => l.Part));
        Assert.All(listing.Where(l => !l.Default), l => Assert.Null(l.Part));
        Assert.Equal(["ReduceMean", "GlobalAveragePool", "Gemm"], new[] { "group_pool", "pool", "logits" }.Select(n => selected[n].Op));
        Assert.Equal([2L, 8, 8], selected["group_pool"].Shape);
        Assert.Equal([2L, 1, 1], selected["pool"].Shape);
        Assert.Equal([3L], selected["logits"].Shape);
    }

    private static MeasurementResult Measure(OnnxFeatureModel model, int images)
    {
        using var probe = new TensorProbeSet("random", OnnxTestGraphs.Images(images, model.InputShape[0], model.InputShape[1], model.InputShape[2]));
        return EquivarianceMeasure.Run(model, probe, new MeasureOptions { Transform = TransformFamily.Rotation, Images = images, BatchSize = images });
    }
}
