using EquivarianceLab.Architectures;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Architectures;

/// <summary>
/// The ViT's and the Mixer's starting weights are timm's: linear weights, class token and position embedding drawn from
/// a normal of std 0.02 cut at ±2. TorchSharp 0.107's <c>trunc_normal_</c> filled them with the constant 0.02 instead
/// (and now and then a NaN), which a model then trained from.
/// </summary>
public class TransformerInitTests
{
    [Theory]
    [InlineData("vit-small")]
    [InlineData("mixer-small")]
    public void Linear_weights_and_tokens_start_as_a_normal_of_std_0_02(string architecture)
    {
        // Several models: the old initialisation put a NaN into about one in seventy-five.
        for (int model = 0; model < 8; model++)
        {
            using var m = ArchitectureRegistry.Create(architecture, ArchitectureOptions.From(("inChannels", 1), ("classes", 6)));
            var drawn = m.named_parameters()
                .Where(p => p.name.EndsWith("cls_token", StringComparison.Ordinal) || p.name.EndsWith("pos_embed", StringComparison.Ordinal)
                            || (p.name.EndsWith(".weight", StringComparison.Ordinal) && p.parameter.dim() == 2))
                .ToList();
            Assert.NotEmpty(drawn);
            foreach (var (name, p) in drawn)
            {
                var values = p.detach().cpu().data<float>().ToArray();
                Assert.All(values, v => Assert.True(float.IsFinite(v) && Math.Abs(v) <= 2, $"{architecture} {name}: {v}"));
                if (values.Length < 1000) continue; // the class token's 64 values: too few for the moments below
                var (mean, std) = SampleMoments.Of(values);
                // A sample std of n normal values is off by about std/√(2n): 2.2% at n = 1000; the bounds are 4.5 times that.
                Assert.InRange(std, 0.02 * 0.9, 0.02 * 1.1);
                Assert.InRange(mean, -4 * 0.02 / Math.Sqrt(values.Length), 4 * 0.02 / Math.Sqrt(values.Length));
            }
        }
    }

    [Fact]
    public void The_truncated_normal_has_the_moments_of_a_normal_cut_where_told()
    {
        using var t = empty(200_000);
        TransformerInit.TruncatedNormal(t, std: 1, cut: 0.5);
        var values = t.data<float>().ToArray();
        Assert.All(values, v => Assert.InRange(v, -0.5f, 0.5f));
        var (mean, std) = SampleMoments.Of(values);
        // By hand: a standard normal cut at ±c has variance 1 − 2cφ(c)/(2Φ(c) − 1); at c = 0.5, φ = 0.3520653 and
        // Φ = 0.6914625, so 1 − 0.3520653/0.3829250 = 0.0805891 and the std is 0.283882 (a plain normal's would be 1).
        Assert.InRange(std, 0.283882 * 0.99, 0.283882 * 1.01);
        Assert.InRange(mean, -0.004, 0.004);
    }
}

/// <summary>
/// The CIFAR ResNets' and Wide ResNets' convolutions start as torchvision's do: He normal, fan-out, ReLU gain — a std
/// of √(2 / (out channels · k²)), worked out by hand per layer. (TorchSharp's <c>kaiming_normal_</c> is libtorch's own,
/// but its mode and nonlinearity cross the native boundary as numbers; a swapped mode would give √(2 / (in · k²)).)
/// </summary>
public class ConvolutionInitTests
{
    [Theory]
    [InlineData("resnet20")]
    [InlineData("wrn16")]
    public void Convolutions_start_with_he_normal_fan_out_weights(string architecture)
    {
        using var m = ArchitectureRegistry.Create(architecture, ArchitectureOptions.From(("inChannels", 1), ("classes", 6)));
        int checkedLayers = 0;
        foreach (var (name, p) in m.named_parameters().Where(p => p.parameter.dim() == 4))
        {
            long outChannels = p.shape[0], inChannels = p.shape[1], k = p.shape[2] * p.shape[3];
            if (p.numel() < 4000 || outChannels == inChannels) continue; // too few values, or fan-in = fan-out
            var values = p.detach().data<float>().ToArray();
            var (_, std) = SampleMoments.Of(values);
            double expected = Math.Sqrt(2.0 / (outChannels * k));
            Assert.InRange(std, expected * 0.93, expected * 1.07); // n ≥ 4000: the sample std is within ±1.1% per sigma
            checkedLayers++;
        }
        Assert.True(checkedLayers > 0, $"{architecture}: no convolution with different fan-in and fan-out was checked");
    }
}

internal static class SampleMoments
{
    /// <summary>The mean and the sample standard deviation (n − 1) of <paramref name="values"/>.</summary>
    public static (double Mean, double Std) Of(float[] values)
    {
        double mean = values.Average(v => (double)v);
        return (mean, Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1)));
    }
}
