using EquivarianceLab.Controls;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Measure;

/// <summary>The paper's §4.1 controls (Figure 3), and the known-answer properties they are built to have.</summary>
public class ControlTests
{
    private static TensorProbeSet Probe(int n = 24, int size = 20)
    {
        var random = new Random(42);
        var data = Enumerable.Range(0, n * size * size).Select(_ => (float)random.NextDouble()).ToArray();
        return new TensorProbeSet("noise", tensor(data, [n, 1, size, size]));
    }

    [Fact]
    public void Isotropic_filters_give_rotation_invariance_one_at_every_layer()
    {
        using var probe = Probe();
        using var model = ModelLoader.Load("builtin:control-rotation-invariant");
        var result = EquivarianceMeasure.Run(model, probe, new MeasureOptions { Transform = TransformFamily.Rotation });
        Assert.Equal(["layer1", "layer2", "layer3", "pool", "logits"], result.Layers.Select(l => l.Name));
        foreach (var layer in result.Layers)
            foreach (var (key, score) in layer.PerTransform)
            {
                Assert.True(score.Invariance > 1 - 1e-5, $"{layer.Name}/{key} invariance {score.Invariance}");
                Assert.True(score.Equivariance > 1 - 1e-5, $"{layer.Name}/{key} equivariance {score.Equivariance}");
            }
        Assert.Equal(["Early", "Middle", "Late", "Pool", "Final"], result.Parts.Keys);
    }

    [Fact]
    public void Rotated_filter_copies_give_equivariance_one_but_not_invariance()
    {
        using var probe = Probe();
        using var model = ModelLoader.Load("builtin:control-rotation-equivariant");
        var result = EquivarianceMeasure.Run(model, probe, new MeasureOptions { Transform = TransformFamily.Rotation });
        foreach (var layer in result.Layers.Where(l => l.Part is "Early" or "Middle" or "Late" or "Pool"))
        {
            foreach (var (key, score) in layer.PerTransform)
                Assert.True(score.Equivariance > 1 - 1e-5, $"{layer.Name}/{key} equivariance {score.Equivariance}");
        }
        // Figure 3(b): invariance clearly below equivariance in the spatial layers, falling with depth.
        var spatial = result.Layers.Where(l => l.Part is "Early" or "Middle" or "Late").ToList();
        Assert.All(spatial, l => Assert.True(l.Invariance < 0.9, $"{l.Name} invariance {l.Invariance}"));
        Assert.True(spatial[2].Invariance < spatial[0].Invariance);
    }

    [Fact]
    public void Each_orientation_channel_is_the_rotation_of_the_previous_one()
    {
        // The construction itself: f(rot X)[(j, r)] = rot f(X)[(j, r − 1)], exactly.
        using var model = ModelLoader.Load("builtin:control-rotation-equivariant", layers: ["layer2"]);
        using var x = rand(2, 1, 12, 12);
        using var rotated = Rotation.Rotate(x, 1);
        var plain = model.Forward(x)[0];
        var moved = model.Forward(rotated)[0];
        for (int j = 0; j < 4; j++)
            for (int r = 0; r < 4; r++)
            {
                using var expected = Rotation.Rotate(plain[.., j * 4 + (r + 3) % 4], 1);
                Assert.True(moved[.., j * 4 + r].allclose(expected, rtol: 1e-4, atol: 1e-5), $"channel ({j},{r})");
            }
        // …and not the rotation of itself: the filters are not symmetric.
        using var same = Rotation.Rotate(plain[.., 0], 1);
        Assert.False(moved[.., 0].allclose(same, rtol: 1e-2, atol: 1e-3));
    }
}
