using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;
using EquivarianceLab.Studies;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Measure;

/// <summary>
/// The bound on translation's largest shift: the smaller image side minus one. Shifts are circular, so larger ones
/// repeat smaller ones (a shift by the side is the identity) and only cost forward passes.
/// </summary>
public class MaxShiftTests
{
    private static TensorProbeSet Probe(int h, int w)
    {
        var random = new Random(5);
        var data = Enumerable.Range(0, 3 * h * w).Select(_ => (float)random.NextDouble()).ToArray();
        return new TensorProbeSet("probe", tensor(data, [3, 1, h, w]));
    }

    [Theory]
    [InlineData(28, 28, 27)]
    [InlineData(224, 224, 223)]
    [InlineData(28, 32, 27)]
    [InlineData(40, 12, 11)]
    [InlineData(2, 2, 1)]
    [InlineData(1, 9, 0)]
    public void The_bound_is_the_smaller_side_minus_one(int height, int width, int expected) =>
        Assert.Equal(expected, MeasureOptions.MaxShiftFor(height, width));

    [Fact]
    public void The_defaults_and_the_studies_shifts_fit_fashion_mnist()
    {
        int max = MeasureOptions.MaxShiftFor(28, 28);
        Assert.True(new MeasureOptions().MaxShift <= max);
        Assert.True(StudyCatalog.CifarScaleMaxShift <= max);
        Assert.True(StudyCatalog.ImageNetScaleMaxShift <= max);
        Assert.Null(MeasureOptions.MaxShiftError(16, 28, 28));
    }

    [Fact]
    public void The_error_states_the_allowed_maximum()
    {
        Assert.Equal("maxShift must be at most 27 for 28×28 images (got 512): shifts are circular, so shifting by the image's side (28) or more repeats a smaller shift.",
            MeasureOptions.MaxShiftError(512, 28, 28));
        Assert.Equal("maxShift must be at least 1 (got 0).", MeasureOptions.MaxShiftError(0, 28, 28));
        Assert.Equal("Translation needs images at least 2 pixels high and wide; the probe images are 1×9.", MeasureOptions.MaxShiftError(1, 1, 9));
        Assert.Null(MeasureOptions.MaxShiftError(27, 28, 28));
    }

    [Fact]
    public void The_measure_refuses_a_shift_beyond_the_bound_before_any_forward_pass()
    {
        using var probe = Probe(10, 12);
        using var model = new TorchFeatureModel("probe-net", new ProbeNet(seed: 1), [1, -1, -1], ["conv1"]);
        var e = Assert.Throws<EquivarianceLabException>(() =>
            EquivarianceMeasure.Run(model, probe, new MeasureOptions { Transform = TransformFamily.Translation, MaxShift = 512 }));
        Assert.Equal("maxShift must be at most 9 for 10×12 images (got 512): shifts are circular, so shifting by the image's side (10) or more repeats a smaller shift.", e.Message);

        var result = EquivarianceMeasure.Run(model, probe, new MeasureOptions { Transform = TransformFamily.Translation, MaxShift = 9 });
        Assert.Equal(9, result.Layers[0].PerTransform.Count);
    }

    [Fact]
    public void Rotation_and_flip_ignore_max_shift()
    {
        using var probe = Probe(6, 6);
        using var model = new TorchFeatureModel("probe-net", new ProbeNet(seed: 1), [1, -1, -1], ["conv1"]);
        // The default of 16 is larger than these images allow for translation, and irrelevant to the other families.
        Assert.Equal(3, EquivarianceMeasure.Run(model, probe, new MeasureOptions { Transform = TransformFamily.Rotation }).Layers[0].PerTransform.Count);
        Assert.Single(EquivarianceMeasure.Run(model, probe, new MeasureOptions { Transform = TransformFamily.Flip }).Layers[0].PerTransform);
    }
}
