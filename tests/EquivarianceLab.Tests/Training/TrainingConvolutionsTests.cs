using EquivarianceLab.Architectures;
using EquivarianceLab.Cards;
using EquivarianceLab.Tests.Cli;
using EquivarianceLab.Training;

namespace EquivarianceLab.Tests.Training;

public class TrainingConvolutionsTests
{
    [Theory]
    [InlineData("resnet20", 1, null, true)]      // 16/32/64 channels
    [InlineData("vit-small", 1, null, true)]     // one 1 → 64 patch projection
    [InlineData("mixer-small", 1, null, true)]
    [InlineData("wrn16", 1, 16, true)]           // the paper's base: 16/16/32/64
    [InlineData("wrn16", 8, 4, false)]           // the zoo's base=4: a 4-channel stem
    [InlineData("cnn7", 1, null, false)]         // 20 channels
    public void OneDnn_is_used_only_where_no_convolution_has_a_padded_block(string arch, int width, int? baseChannels, bool expected)
    {
        var options = new List<(string, int)> { ("inChannels", 1), ("classes", 10) };
        if (arch == "wrn16") options.Add(("width", width));
        if (baseChannels is int b) options.Add(("base", b));
        using var model = ArchitectureRegistry.Create(arch, ArchitectureOptions.From([.. options]));
        Assert.Equal(expected, TrainingConvolutions.OneDnnIsSafe(model, imageChannels: 1));
    }

    /// <summary>
    /// The real <c>eqlab train</c>, twice with one seed, on a ResNet-20 (oneDNN): the same checkpoint bits both times
    /// (a padded block's garbage would not repeat), the card says which convolutions trained it, and its accuracy is the
    /// one exact convolutions give in this process. The accuracy is taken on a 500-image stand-in test split: ResNet-20 on
    /// the exact kernel takes minutes for 10,000 images on a loaded CI machine, three times over.
    /// </summary>
    [Fact]
    public void A_resnet_trained_with_oneDNN_repeats_bit_for_bit_and_its_card_accuracy_is_the_exact_one()
    {
        using var dir = new TempDirectory();
        var data = TrainingTestData.WriteStandInTrainingSplit(Path.Combine(dir.Path, "fmnist"), 512);
        TrainingTestData.WriteStandInTestSplit(data, 500);
        var checkpoints = new List<byte[]>();
        ModelCard? card = null;
        foreach (var run in new[] { "a", "b" })
        {
            var output = Path.Combine(dir.Path, run);
            var result = Eqlab.Run(dir.Path, "train", "--arch", "resnet20", "--epochs", "1", "--batch", "64", "--train-limit", "512",
                "--data-folder", data, "--seed", "5", "--out", output);
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains("oneDNN convolutions", result.Stderr);
            Assert.Contains("(500 images)", result.Stderr);
            checkpoints.Add(File.ReadAllBytes(Path.Combine(output, TrainingDefaults.CheckpointFileName)));
            card = ModelCard.Load(Path.Combine(output, "card.json"));
        }
        Assert.Equal(checkpoints[0], checkpoints[1]);
        Assert.Contains("with oneDNN convolutions", card!.Provenance);
        Assert.False(NativeRuntime.OneDnnEnabled);
        Assert.Equal(card.Accuracy!.Value, Math.Round(CardAccuracy.Measure(card, Path.Combine(dir.Path, "b"), data), 2));
    }
}

/// <summary>The scope switches a process-wide libtorch setting, so nothing may run beside it.</summary>
[Collection(ComputeThreadsCollection.Name)]
public class OneDnnScopeTests
{
    [Fact]
    public void The_scope_switches_oneDNN_on_and_back_off_and_does_not_nest()
    {
        Assert.True(NativeRuntime.ExactConvolutions);
        Assert.False(NativeRuntime.OneDnnEnabled);
        using (NativeRuntime.UseOneDnnConvolutions())
        {
            Assert.True(NativeRuntime.OneDnnEnabled);
            Assert.Throws<InvalidOperationException>(NativeRuntime.UseOneDnnConvolutions);
        }
        Assert.False(NativeRuntime.OneDnnEnabled);
    }
}
