using EquivarianceLab.Cards;
using EquivarianceLab.FeatureModels.Onnx;
using TorchSharp;

namespace EquivarianceLab.Tests.Onnx;

/// <summary>
/// The ImageNet ResNet-18 featurizer of the zoo (a CNTK export, opset 8, fixed batch of 1), copied to
/// models/imagenet-resnet18/ by the Cli build (build/ImageNetResNet18.targets).
/// </summary>
public class ImageNetResNet18Tests
{
    private static string Folder => Path.Combine(OnnxTestGraphs.RepositoryRoot(), "models", "imagenet-resnet18");

    private static OnnxFeatureModel Load()
    {
        var path = Path.Combine(Folder, "resnet18.onnx");
        Assert.True(File.Exists(path), $"{path} is missing: building the Cli project copies it from the NuGet package.");
        return OnnxFeatureModel.Load(path);
    }

    [Fact]
    public void The_featurizer_loads_batched_with_spatial_layers_then_the_pool()
    {
        using var model = Load();

        Assert.Equal([3L, 224, 224], model.InputShape);
        Assert.Equal("Input247", model.InputName);
        Assert.Equal(OnnxBatchMode.Batched, model.BatchMode);
        // 19 Relu and 9 residual Add outputs (this ResNet-18 has three blocks in its last stage), then the pool.
        Assert.Equal(29, model.Layers.Count);
        Assert.Equal("ReLU253_Output_0", model.Layers[0]);
        Assert.Equal("Plus267_Output_0", model.Layers[2]);
        Assert.Equal("ReLU393_Output_0", model.Layers[^2]);
        Assert.Equal("Pooling395_Output_0", model.Layers[^1]);
        Assert.All(model.Layers.SkipLast(1), l => Assert.Equal(3, model.TensorShapes[l].Count));
        Assert.Equal([64L, 112, 112], model.TensorShapes["ReLU253_Output_0"]);
        Assert.Equal([512L, 7, 7], model.TensorShapes["ReLU393_Output_0"]);
        Assert.Null(model.LogitsLayer); // a featurizer: its output is the pool
    }

    [Fact]
    public void A_batch_of_three_gives_finite_pooled_features_equal_to_single_image_runs()
    {
        using var model = Load();
        using var images = OnnxTestGraphs.Images(3, 3, 224, 224, scale: 100); // the graph takes BGR 0-255 minus the mean

        using (var features = new Features(model.Forward(images)))
        {
            var pool = features[^1];
            Assert.Equal([3L, 512, 1, 1], pool.shape);
            Assert.True(pool.isfinite().all().item<bool>());
            Assert.True(pool.abs().max().item<float>() > 0);

            using var second = images.narrow(0, 1, 1);
            using var single = new Features(model.Forward(second));
            var expected = single[^1];
            using var actual = pool.narrow(0, 1, 1);
            Assert.True(actual.allclose(expected, rtol: 1e-4, atol: 1e-4));
        }
    }

    [Fact]
    public void The_card_describes_the_graph()
    {
        var card = ModelCard.Load(Path.Combine(Folder, "card.json"));

        Assert.Equal("imagenet-resnet18", card.Id);
        Assert.Equal("onnx", card.Format);
        Assert.Equal("resnet18.onnx", card.File);
        Assert.Equal([3, 224, 224], card.InputShape);
        Assert.Equal("BGR", card.Preprocessing.ChannelOrder);
        Assert.Equal(1.0, card.Preprocessing.Scale);
        // No classifier and no ImageNet here: the accuracy is the publisher's top-1 (100 − 29.186% error), marked as such.
        Assert.Equal(70.81, card.Accuracy!.Value, 2);
        Assert.Equal("imagenet-1k/val", card.AccuracyDataset);
        Assert.Contains("29.186%", card.AccuracyReportedBy);
        Assert.Contains("Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1", card.Provenance);
    }
}
