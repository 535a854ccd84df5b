using System.CommandLine;
using EquivarianceLab.Cards;
using EquivarianceLab.Cli.Commands;

namespace EquivarianceLab.Tests.Training;

public class TrainCommandTests
{
    private static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var root = new RootCommand { TrainCommand.Create() };
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int exit = root.Parse(args).Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
        return (exit, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void UnknownArchitectureIsAOneLineError()
    {
        var (exit, _, err) = Run("train", "--arch", "vgg", "--out", Path.GetTempPath());
        Assert.Equal(2, exit);
        Assert.StartsWith("eqlab: Unknown architecture 'vgg'", err);
        Assert.Contains("cnn7", err);
    }

    [Fact]
    public void BadOptionsAreErrors()
    {
        Assert.Contains("--option 'depth'", Run("train", "--arch", "wrn", "--option", "depth", "--out", "x").Err);
        Assert.Contains("Unknown data set", Run("train", "--arch", "cnn7", "--data", "mnist", "--out", "x").Err);
        Assert.Contains("Unknown augmentation", Run("train", "--arch", "cnn7", "--augment", "mixup", "--out", "x").Err);
        Assert.Contains("no width option", Run("train", "--arch", "vit-small", "--width", "2", "--out", "x", "--train-limit", "10").Err);
        Assert.Contains("--out is required", Run("train", "--arch", "cnn7").Err);
    }

    [Fact]
    public void TrainsAndWritesACardWithTheCommandLine()
    {
        using var dir = new TempDirectory();
        var file = Path.Combine(dir.Path, "tiny.safetensors");
        // A stand-in training split beside the shipped test set, so the test needs nothing outside the repository
        // (the real one comes with Debian's dataset-fashion-mnist): the first 600 test images, written as train files.
        var data = TrainingTestData.WriteStandInTrainingSplit(Path.Combine(dir.Path, "fmnist"), 600);
        // And a small test split: the accuracy on 6,000 images on the exact kernel is most of this test's 45 s here, more under load.
        TrainingTestData.WriteStandInTestSplit(data, 300);
        var (exit, stdout, stderr) = Run("train", "--arch", "cnn7", "--data", "fmnist6-rot-inv", "--augment", "crop,flip", "--epochs", "1",
            "--batch", "64", "--train-limit", "256", "--data-folder", data, "--seed", "7", "--out", file);
        Assert.True(exit == 0, stderr);
        Assert.Contains("epoch 1/1", stderr); // progress
        Assert.Contains("exact convolutions", stderr); // 20 channels: oneDNN would pad its blocks
        Assert.Contains("test accuracy", stdout);
        var card = ModelCard.Load(file + ".card.json");
        Assert.Equal("tiny", card.Id);
        Assert.Equal("pytorch", card.Format);
        Assert.Equal("tiny.safetensors", card.File);
        Assert.Equal(7, card.Seed);
        Assert.StartsWith($"eqlab train --arch cnn7 --data fmnist6-rot-inv --augment crop,flip --epochs 1 --batch 64 --train-limit 256 --data-folder {data} --seed 7 --out {file}", card.Provenance);
        Assert.Equal("fmnist6-rot-inv/test", card.AccuracyDataset);
        Assert.Contains("crop,flip", card.DisplayName);
        Assert.NotNull(ModelCard.FindFor(file));
    }
}
