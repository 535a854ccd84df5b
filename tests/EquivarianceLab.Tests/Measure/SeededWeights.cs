using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Measure;

/// <summary>
/// A test net's weights from a generator of its own. xunit runs test classes side by side, and any of them may draw
/// from libtorch's global generator (a module's default initialisation, <c>torch.randn</c>) between another net's
/// <c>manual_seed</c> and its initialisation: that net then has other weights than its seed gives, and a test that relies
/// on what the seed gives fails once in many runs (seen in CI: <c>FeatureMapsTests</c> found a channel dead that its
/// seed keeps alive).
/// </summary>
internal static class SeededWeights
{
    /// <summary>
    /// Draws the parameters of <paramref name="modules"/> again, in the order given, as their default initialisation does
    /// (weights kaiming-uniform with a = √5, biases uniform in ±1/√fan-in), from a generator seeded with
    /// <paramref name="seed"/>: the values <c>manual_seed(seed)</c> followed by constructing them gives when nothing
    /// else draws in between (<see cref="SeededWeightsTests"/>).
    /// </summary>
    public static void Apply(int seed, params nn.Module[] modules)
    {
        using var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var module in modules)
        {
            var (weight, bias) = module switch
            {
                Conv2d conv => (conv.weight!, conv.bias),
                Linear linear => (linear.weight!, linear.bias),
                _ => throw new ArgumentException($"{module.GetType().Name}: only Conv2d and Linear are drawn here.", nameof(modules)),
            };
            var fanIn = weight.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
            var gain = Math.Sqrt(2.0 / (1 + Math.Pow(Math.Sqrt(5.0), 2)));
            var bound = Math.Sqrt(3.0) * (gain / Math.Sqrt(fanIn));
            weight.uniform_(-bound, bound, generator);
            if (bias is not null)
            {
                var biasBound = 1 / Math.Sqrt(fanIn);
                bias.uniform_(-biasBound, biasBound, generator);
            }
        }
    }
}
