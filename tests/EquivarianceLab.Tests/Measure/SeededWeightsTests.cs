using EquivarianceLab.Tests.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Measure;

/// <summary>In the collection that runs alone: nothing else draws from the global generator meanwhile.</summary>
[Collection(ComputeThreadsCollection.Name)]
public class SeededWeightsTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    public void The_weights_are_those_that_manual_seed_and_the_default_initialisation_give(int seed)
    {
        manual_seed(seed);
        using var conv1 = nn.Conv2d(1, 6, 3, padding: 1);
        using var conv2 = nn.Conv2d(6, 5, 3, stride: 2, padding: 1);
        using var noBias = nn.Conv2d(5, 8, 5, padding: 2, bias: false);
        using var head = nn.Linear(8, 4);
        nn.Module[] modules = [conv1, conv2, noBias, head];
        var seeded = modules.SelectMany(m => m.parameters()).Select(p => p.detach().clone()).ToList();
        using (no_grad())
            foreach (var p in modules.SelectMany(m => m.parameters())) p.zero_();

        SeededWeights.Apply(seed, modules);

        var drawn = modules.SelectMany(m => m.parameters()).ToList();
        Assert.Equal(seeded.Count, drawn.Count);
        for (int i = 0; i < seeded.Count; i++)
            Assert.Equal(seeded[i].data<float>().ToArray(), drawn[i].data<float>().ToArray());
        foreach (var t in seeded) t.Dispose();
    }
}
