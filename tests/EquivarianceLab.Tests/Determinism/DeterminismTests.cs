using System.Text.Json;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using EquivarianceLab.Tests.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Determinism;

/// <summary>
/// Issue 9: the same measurement gives the same numbers — repeated in one process (as the dashboard does, with other
/// work in between), in two processes, and whatever the batch size — for every zoo model and every model source
/// (TorchSharp <c>.dat</c>, PyTorch state_dict, safetensors, ONNX). Before the fix the 7-layer CNNs (20 channels) gave
/// NaN or other values in some runs, from <c>layer2</c> on.
/// </summary>
public sealed class DeterminismTests
{
    private const int Images = 32;

    public static TheoryData<string> AllSources() => DeterminismSources.Names();

    /// <summary>The sources two real processes measure: the models the issue named, and one of each other format.</summary>
    public static TheoryData<string> ProcessSources() => DeterminismSources.Names(s =>
        s.Name.StartsWith("cnn7-fmnist6", StringComparison.Ordinal) || s.Name.Contains(':', StringComparison.Ordinal));

    private static DeterminismSource Source(string name) => DeterminismSources.Instance[name];

    private static MeasurementResult Measure(DeterminismSource source, int images, int batch, TransformFamily family = TransformFamily.Rotation)
    {
        var (model, probe) = MeasurementInputs.Open(source.Model, source.Probe);
        using (model)
        using (probe)
        {
            return EquivarianceMeasure.Run(model, probe, new MeasureOptions
            {
                Transform = family,
                MaxShift = 3,
                Images = images,
                BatchSize = batch,
            });
        }
    }

    [Theory]
    [MemberData(nameof(AllSources))]
    public void Measuring_again_in_the_same_process_gives_bit_identical_numbers(string name)
    {
        var source = Source(name);
        var first = Measure(source, 16, 8);
        // Other work in between, as a dashboard runs other jobs: the heap no longer holds what it held the first time.
        Measure(Source("resnet20-fmnist"), 8, 8, TransformFamily.Translation);
        var again = Measure(source, 16, 8);

        var difference = ScoreComparison.LargestDifference(first, again);
        Assert.True(difference.Value == 0, $"{name}: {difference}");
        Assert.All(first.Layers.Where(l => l.Part is not null), l => Assert.NotNull(l.Equivariance));
        // The working arrays the first run handed back (RecycledArrays) come to the second with the other run's
        // values in them: which channel each channel became must not depend on that either.
        Assert.All(first.Layers.Zip(again.Layers), pair => Assert.Equal(
            JsonSerializer.Serialize(pair.First.Matching), JsonSerializer.Serialize(pair.Second.Matching)));
        Assert.Contains(first.Layers, l => l.Matching is { Count: > 0 });
    }

    [Theory]
    [MemberData(nameof(AllSources))]
    public void A_batch_of_one_and_a_batch_of_thirty_two_agree_to_1e_5(string name)
    {
        var source = Source(name);
        var single = Measure(source, Images, 1);
        var batched = Measure(source, Images, 32);
        var difference = ScoreComparison.LargestDifference(single, batched);
        Assert.True(difference.Value <= 1e-5, $"{name}: {difference}");
    }

    [Theory]
    [MemberData(nameof(AllSources))]
    public void An_image_measured_alone_has_the_features_it_has_inside_a_batch(string name)
    {
        // Batch norm left in training mode normalises by the batch's own statistics: this is where it would show.
        var source = Source(name);
        var (model, probe) = MeasurementInputs.Open(source.Model, source.Probe);
        using (model)
        using (probe)
        using (no_grad())
        using (NewDisposeScope())
        {
            const int count = 6;
            var batch = probe.ReadBatch(0, count);
            var together = model.Forward(batch);
            for (var i = 0; i < count; i++)
            {
                var alone = model.Forward(batch.narrow(0, i, 1));
                for (var l = 0; l < model.Layers.Count; l++)
                {
                    var inBatch = together[l].narrow(0, i, 1);
                    var scale = Math.Max(1.0, inBatch.abs().max().item<float>());
                    var gap = (alone[l] - inBatch).abs().max().item<float>();
                    Assert.False(float.IsNaN(gap), $"{name} {model.Layers[l]} image {i}: NaN in the features");
                    Assert.True(gap <= 1e-5 * scale, $"{name} {model.Layers[l]} image {i}: alone and in a batch differ by {gap:G3} (scale {scale:G3})");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(ProcessSources))]
    public void Two_processes_give_bit_identical_numbers_and_the_same_as_this_process(string name)
    {
        var source = Source(name);
        using var folder = new Training.TempDirectory();
        var runs = new MeasurementResult[2];
        for (var i = 0; i < runs.Length; i++)
        {
            var output = Path.Combine(folder.Path, $"run{i}.json");
            var run = Eqlab.Run(folder.Path, "measure", "--model", source.Model, "--probe", source.Probe,
                "--transform", "rotation", "--images", "16", "--batch", "8", "--out", output);
            Assert.True(run.ExitCode == 0, run.ToString());
            runs[i] = MeasurementResult.FromJson(File.ReadAllText(output));
        }
        var here = Measure(source, 16, 8);

        var between = ScoreComparison.LargestDifference(runs[0], runs[1]);
        Assert.True(between.Value == 0, $"{name}, process 1 vs 2: {between}");
        var withThis = ScoreComparison.LargestDifference(runs[0], here);
        Assert.True(withThis.Value == 0, $"{name}, a process vs this one: {withThis}");
    }
}
