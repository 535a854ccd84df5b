using EquivarianceLab.Architectures;
using EquivarianceLab.Cards;
using EquivarianceLab.Probes;
using EquivarianceLab.Training;
using TorchSharp;

namespace EquivarianceLab.Tests.Training;

public class TrainerTests
{
    private static LabeledImages Small(int n) =>
        TrainingData.Build(DataVariant.Fmnist6, FashionMnistSplit.Test, TrainingTestData.Images, TrainingTestData.Labels, limit: n);

    private static TrainingResult TrainCnn(LabeledImages data, int seed, string augment = "none", int epochs = 3)
    {
        torch.manual_seed(seed);
        using var model = ArchitectureRegistry.Create("cnn7", ArchitectureOptions.From(("inChannels", 1), ("classes", 6)));
        return Trainer.Train(model, data, new TrainingSettings
        {
            Epochs = epochs,
            BatchSize = 32,
            Seed = seed,
            Augmentations = Augmentation.Parse(augment),
            Schedule = TrainingSchedule.For("cnn7"),
        });
    }

    [Fact]
    public void AFewBatchesLowerTheLoss()
    {
        using var data = Small(320);
        var r = TrainCnn(data, seed: 0);
        Assert.Equal(30, r.Steps);
        Assert.Equal(3, r.EpochLoss.Count);
        Assert.True(r.StepLoss.TakeLast(5).Average() < r.StepLoss.Take(5).Average() - 0.2,
            $"loss {string.Join(", ", r.StepLoss.Select(l => l.ToString("F2")))}");
        Assert.True(r.EpochLoss[^1] < r.EpochLoss[0]);
        Assert.True(r.EpochAccuracy[^1] > r.EpochAccuracy[0]);
    }

    [Fact]
    public void TrainingIsDeterministicForASeed()
    {
        // Weight initialisation is torch's (seeded by the caller); everything random in training comes from the seed.
        using var data = Small(96);
        using var init = ArchitectureRegistry.Create("cnn7", ArchitectureOptions.From(("inChannels", 1), ("classes", 6)));
        TrainingResult Train(int seed)
        {
            using var model = ArchitectureRegistry.Create("cnn7", ArchitectureOptions.From(("inChannels", 1), ("classes", 6)));
            model.load_state_dict(init.state_dict());
            return Trainer.Train(model, data, new TrainingSettings
            {
                Epochs = 1,
                BatchSize = 32,
                Seed = seed,
                Augmentations = Augmentation.Parse("crop,flip,cutmix,randaugment"),
                Schedule = TrainingSchedule.For("cnn7"),
            });
        }
        var a = Train(4);
        var b = Train(4);
        var c = Train(5);
        Assert.Equal(a.StepLoss, b.StepLoss);
        Assert.NotEqual(a.StepLoss, c.StepLoss);
    }

    [Fact]
    public void EveryAugmentationAndArchitectureFamilyTrains()
    {
        using var data = Small(64);
        foreach (var augment in Augmentation.Names)
            Assert.All(TrainCnn(data, 1, augment, epochs: 1).StepLoss, l => Assert.True(double.IsFinite(l)));
        foreach (var arch in new[] { "vit-small", "mixer-small", "wrn16", "resnet20" })
        {
            using var model = ArchitectureRegistry.Create(arch, ArchitectureOptions.From(("inChannels", 1), ("classes", 6)));
            var r = Trainer.Train(model, data, new TrainingSettings { Epochs = 1, BatchSize = 32, Schedule = TrainingSchedule.For(arch) });
            Assert.Equal(2, r.Steps);
            Assert.All(r.StepLoss, l => Assert.True(double.IsFinite(l)));
        }
    }

    [Fact]
    public void SchedulesFollowThePaper()
    {
        var cnn = TrainingSchedule.For("cnn7");
        Assert.Equal(OptimizerKind.Adam, cnn.Optimizer);
        Assert.Equal(0.01, cnn.LearningRateAt(0.0), 12);
        Assert.Equal(0.001, cnn.LearningRateAt(0.25), 12);
        Assert.Equal(0.0001, cnn.LearningRateAt(0.6), 12);
        Assert.Equal(5e-4, cnn.WeightDecay);
        var resnet = TrainingSchedule.For("resnet44");
        Assert.Equal(OptimizerKind.Sgd, resnet.Optimizer);
        Assert.Equal(0.1, resnet.LearningRateAt(0.49), 12);
        Assert.Equal(0.01, resnet.LearningRateAt(0.5), 12);
        Assert.Equal(0.001, resnet.LearningRateAt(0.8), 12);
        Assert.Equal(0.9, resnet.Momentum);
        Assert.Equal(OptimizerKind.Sgd, TrainingSchedule.For("wrn").Optimizer);
        var vit = TrainingSchedule.For("vit-small");
        Assert.Equal(OptimizerKind.AdamW, vit.Optimizer);
        Assert.True(vit.LearningRateAt(0.01) < vit.LearningRateAt(0.1));
        Assert.True(vit.LearningRateAt(0.99) < 1e-5);
    }

    [Fact]
    public void BadSettingsAreClearErrors()
    {
        using var data = Small(10);
        using var model = ArchitectureRegistry.Create("cnn7", ArchitectureOptions.From(("inChannels", 1), ("classes", 6)));
        Assert.Throws<EquivarianceLabException>(() => Trainer.Train(model, data, new TrainingSettings { Epochs = 0, Schedule = TrainingSchedule.For("cnn7") }));
        Assert.Throws<EquivarianceLabException>(() => Trainer.Train(model, data, new TrainingSettings { BatchSize = 1, Schedule = TrainingSchedule.For("cnn7") }));
    }

    [Fact]
    public void CardAccuracyIsReMeasuredOnTheTestSet()
    {
        using var dir = new TempDirectory();
        var outDir = Path.Combine(dir.Path, "cnn7-tiny");
        var outcome = TrainingRun.Run(new TrainRequest
        {
            Architecture = "cnn7",
            Data = DataVariant.Fmnist6RotEq,
            Epochs = 2,
            TrainLimit = 2048,
            // The stand-in split: the first 4,000 shipped test images (≈ 2,400 of FMNIST-6's classes).
            DataFolder = TrainingTestData.WriteStandInTrainingSplit(Path.Combine(dir.Path, "fmnist"), 4000),
            Seed = 3,
            Out = outDir,
            CommandLine = "eqlab train --arch cnn7 --data fmnist6-rot-eq --epochs 2 --train-limit 2048 --seed 3",
        });
        var card = ModelCard.Load(Path.Combine(outDir, "card.json"));
        Assert.Equal("cnn7-tiny", card.Id);
        Assert.Equal("torchsharp", card.Format);
        Assert.Equal("model.dat", card.File);
        Assert.Equal("cnn7", card.Architecture);
        Assert.Equal(24, card.ArchitectureOptions!["classes"].GetInt32());
        Assert.Equal(1, card.ArchitectureOptions!["inChannels"].GetInt32());
        Assert.Equal([1, 28, 28], card.InputShape);
        Assert.Equal("fmnist6-rot-eq/test", card.AccuracyDataset);
        Assert.Equal(3, card.Seed);
        Assert.StartsWith("eqlab train --arch cnn7 --data fmnist6-rot-eq", card.Provenance);
        Assert.Contains("seed 3", card.Provenance);
        Assert.Equal(outcome.Accuracy, card.Accuracy);
        Assert.InRange(card.Accuracy!.Value, 100.0 / 24 + 2, 100); // learned something

        double remeasured = CardAccuracy.Measure(card, outDir);
        Assert.Equal(card.Accuracy!.Value, remeasured, 2);
        Assert.Equal(card.Id, ModelCard.FindFor(Path.Combine(outDir, "model.dat"))!.Id);
    }
}
