using EquivarianceLab.Architectures;
using EquivarianceLab.Cards;
using EquivarianceLab.Checkpoints;
using EquivarianceLab.FeatureModels;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Reference;

/// <summary>
/// The TorchSharp architectures against <see cref="FunctionalReference"/>: every hook point of the shipped zoo models
/// on real, preprocessed Fashion-MNIST test images (upright and rotated, as the measure feeds them), and ResNet-18 with
/// random weights and batch-norm statistics. Also guards the oneDNN fix (<see cref="NativeRuntime"/>): convolutions
/// whose channel counts are not a multiple of 16 must be exact and give the same bits on every call.
/// </summary>
public class ArchitectureReferenceTests(ITestOutputHelper output)
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string> ZooIds =>
    [
        "cnn7-fmnist6", "cnn7-fmnist6-rotinv", "cnn7-fmnist6-roteq", "resnet20-fmnist",
        "wrn16-1-fmnist", "wrn16-2-fmnist", "vit-small-fmnist", "mixer-small-fmnist",
    ];

    [Theory]
    [MemberData(nameof(ZooIds))]
    public void Zoo_model_hook_points_match_the_functional_reference(string id)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var modelsFolder = RepositoryPaths.ModelsFolder ?? throw new InvalidOperationException("No models/ folder above the test binaries.");
        var folder = Path.Combine(modelsFolder, id);
        var card = ModelCard.Load(Path.Combine(folder, "card.json"));
        // The reference's weights come from a separate load of the same file, read only through state_dict().
        using var weightsModule = CheckpointIO.Load(Path.Combine(folder, card.File), card);
        var weights = weightsModule.state_dict();
        int heads = card.ArchitectureOptions is { } o && o.TryGetValue("heads", out var h) ? h.GetInt32() : 4;

        var (model, probe) = MeasurementInputs.Open(folder, Path.Combine(modelsFolder, "data/fashion-mnist/t10k-images-idx3-ubyte.gz"));
        using (model)
        using (probe)
        {
            var batch = probe.ReadBatch(100, 6);
            var rotated = batch.rot90(1, (2, 3));
            Assert.False(rotated.is_contiguous()); // the measure's transformed inputs are views like this one
            foreach (var (name, input) in new[] { ("upright", batch), ("rotated", rotated) })
            {
                var actual = model.Forward(input);
                var expected = FunctionalReference.Forward(card.Architecture!, weights, input, heads);
                AssertSameHookPoints($"{id} {name}", model.Layers, actual, expected);
            }
        }
    }

    [Fact]
    public void TorchVision_resnet18_with_random_batch_norm_statistics_matches_the_functional_reference()
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(7);
        using var module = ArchitectureRegistry.Create("resnet18", ArchitectureOptions.From(("inChannels", 3), ("classes", 10)));
        var weights = module.state_dict();
        // Fresh batch norms are the identity in eval mode (mean 0, var 1, γ 1, β 0); random ones test that each is applied.
        foreach (var key in weights.Keys.Where(k => k.EndsWith(".running_mean", StringComparison.Ordinal)).ToList())
        {
            var bn = key[..^".running_mean".Length];
            var c = weights[key].shape[0];
            weights[key].copy_(torch.randn(c).Times(0.2));
            weights[$"{bn}.running_var"].copy_(torch.rand(c).Plus(0.5));
            weights[$"{bn}.weight"].copy_(torch.rand(c).Plus(0.5));
            weights[$"{bn}.bias"].copy_(torch.randn(c).Times(0.2));
        }
        module.eval();
        var hooked = (IHookedModule)module;
        var batch = torch.randn(4, 3, 64, 64);
        foreach (var (name, input) in new[] { ("upright", batch), ("rotated", batch.rot90(1, (2, 3))) })
        {
            var actual = hooked.ForwardHooks(input, hooked.HookPoints);
            var expected = FunctionalReference.Forward("resnet18", weights, input);
            AssertSameHookPoints($"resnet18 {name}", hooked.HookPoints, actual, expected);
        }
    }

    [Fact]
    public void Convolutions_with_channel_counts_that_are_not_a_multiple_of_16_are_exact_and_repeatable()
    {
        // Reading the property runs the library's module initializer (if nothing has yet), which switches oneDNN off.
        Assert.True(NativeRuntime.ExactConvolutions);
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        foreach (var (inChannels, outChannels) in new[] { (20, 6), (20, 20), (24, 6), (24, 20) })
        {
            var x = torch.randn(32, inChannels, 28, 28);
            var weight = torch.randn(outChannels, inChannels, 3, 3).Over(Math.Sqrt(9 * inChannels)); // outputs of order 1
            var first = nn.functional.conv2d(x, weight, padding: [1, 1]);
            Assert.False(first.isnan().any().item<bool>(), $"{inChannels}→{outChannels}: NaN");
            for (int call = 1; call < 30; call++)
            {
                using var again = nn.functional.conv2d(x, weight, padding: [1, 1]);
                Assert.True(again.eq(first).all().item<bool>(), $"{inChannels}→{outChannels}: call {call} differs from call 0");
            }
            var reference = ShiftedSliceConvolution(x.to(float64), weight.to(float64));
            double diff = (first.to(float64) - reference).abs().max().item<double>();
            output.WriteLine($"conv {inChannels}→{outChannels}: max |conv2d − reference| = {diff:E2}");
            Assert.True(diff <= Tolerance, $"{inChannels}→{outChannels}: conv2d differs from the reference by {diff:E2}");
        }
    }

    /// <summary>A 3×3, padding-1 convolution as the sum over the 9 taps of a shifted input slice times that tap's weights.</summary>
    private static Tensor ShiftedSliceConvolution(Tensor x, Tensor weight)
    {
        long height = x.shape[2], width = x.shape[3];
        var padded = nn.functional.pad(x, [1, 1, 1, 1]);
        var sum = torch.zeros(x.shape[0], weight.shape[0], height, width, dtype: x.dtype);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                sum += torch.einsum("nchw,oc->nohw", padded.narrow(2, i, height).narrow(3, j, width), weight[.., .., i, j]);
        return sum;
    }

    /// <summary>
    /// Same hook names in the same order, same shapes, no NaN, and every element within 1e-4 (times the reference's
    /// largest magnitude when that exceeds 1, since float32 rounding grows with the values).
    /// </summary>
    private void AssertSameHookPoints(string what, IReadOnlyList<string> layers, IReadOnlyList<Tensor> actual, List<(string Name, Tensor Value)> expected)
    {
        Assert.Equal(expected.Select(e => e.Name), layers);
        Assert.Equal(expected.Count, actual.Count);
        var report = new List<string>();
        for (int i = 0; i < expected.Count; i++)
        {
            var (name, reference) = expected[i];
            Assert.Equal(reference.shape, actual[i].shape);
            Assert.False(actual[i].isnan().any().item<bool>(), $"{what}: NaN in the module's {name}");
            Assert.False(reference.isnan().any().item<bool>(), $"{what}: NaN in the reference's {name}");
            double scale = Math.Max(1, reference.abs().max().item<float>());
            double diff = (actual[i] - reference).abs().max().item<float>();
            report.Add($"{name} {diff:E1} (max {scale:G3})");
            Assert.True(diff <= Tolerance * scale,
                $"{what}: hook point {name} differs from the reference by {diff:E2} (largest |value| {scale:G3}); so far: {string.Join(", ", report)}");
        }
        output.WriteLine($"{what}: max |module − reference| per hook point: {string.Join(", ", report)}");
    }
}
