using EquivarianceLab.Architectures;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.FeatureModels.Onnx;
using EquivarianceLab.Tests.Onnx;
using EquivarianceLab.Tests.TestModels;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Equivalence;

/// <summary>
/// The ResNet-18 the speed tests measure through ONNX Runtime is the TorchSharp torchvision ResNet-18 with the same
/// weights (batch norms with non-trivial statistics, folded into the convolutions): two implementations agree on
/// every measured tensor.
/// </summary>
public sealed class ResNet18GraphTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("eqlab-r18-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>A seeded ResNet-18 whose batch norms are far from the identity, and its ONNX twin at <paramref name="side"/>.</summary>
    public static (TorchVisionResNet Torch, string OnnxPath) Make(string folder, long side, int seed = 7)
    {
        manual_seed(seed);
        var model = new TorchVisionResNet(18);
        using (no_grad())
        {
            foreach (var (name, buffer) in model.named_buffers())
            {
                if (name.EndsWith("running_mean", StringComparison.Ordinal)) buffer.copy_(randn_like(buffer).Times(0.1));
                if (name.EndsWith("running_var", StringComparison.Ordinal)) buffer.copy_(rand_like(buffer).Plus(0.5));
            }
            foreach (var (name, parameter) in model.named_parameters())
                if (name.Contains(".bn", StringComparison.Ordinal) || name.StartsWith("bn1", StringComparison.Ordinal) || name.Contains("downsample.1", StringComparison.Ordinal))
                    parameter.copy_(name.EndsWith("weight", StringComparison.Ordinal) ? rand_like(parameter).Plus(0.5) : randn_like(parameter).Times(0.1));
        }
        model.eval();
        var path = Path.Combine(folder, $"resnet18-{side}.onnx");
        File.WriteAllBytes(path, ResNet18Graph.From(model, side));
        return (model, path);
    }

    [Fact]
    public void The_onnx_graph_gives_the_torchsharp_features_of_every_stage_the_pool_and_the_logits()
    {
        var (torchModule, path) = Make(_folder, 64);
        var hooks = new[] { "layer1.1", "layer2.1", "layer3.1", "layer4.1", "pool", "logits" };
        using var torchModel = new TorchFeatureModel("resnet18", torchModule, [3, 64, 64], hooks);
        using var onnx = OnnxFeatureModel.Load(path, [.. hooks.Select(ResNet18Graph.OnnxNameOf)]);
        using var images = OnnxTestGraphs.Images(3, 3, 64, 64);

        using var expected = new Features(torchModel.Forward(images));
        using var actual = new Features(onnx.Forward(images));
        for (int l = 0; l < hooks.Length; l++)
        {
            Assert.Equal(expected[l].shape, actual[l].shape);
            var difference = (expected[l] - actual[l]).abs().max().item<float>();
            var scale = expected[l].abs().max().item<float>();
            Assert.True(difference <= 1e-4 * Math.Max(1, scale), $"{hooks[l]}: max |torch − onnx| = {difference} (scale {scale})");
        }
        // The README's speed table measures this graph: EQLAB_BENCH_ASSETS=FOLDER writes it there as resnet18-64.onnx,
        // with 512 random 64×64 probe images (probe64.npy).
        if (Environment.GetEnvironmentVariable("EQLAB_BENCH_ASSETS") is { Length: > 0 } folder)
        {
            Directory.CreateDirectory(folder);
            File.Copy(path, Path.Combine(folder, "resnet18-64.onnx"), overwrite: true);
            var random = new Random(64);
            var pixels = new float[512 * 3 * 64 * 64];
            for (int i = 0; i < pixels.Length; i++) pixels[i] = (float)(random.NextDouble() * 2 - 1);
            EquivarianceLab.Probes.NpyWriter.Write(Path.Combine(folder, "probe64.npy"), pixels, [512, 3, 64, 64]);
        }
    }
}
