using EquivarianceLab.Cards;
using EquivarianceLab.Studies;

namespace EquivarianceLab.Tests.Studies;

/// <summary>Which zoo models are seed replicas of one setting, and how a study lays them out.</summary>
public class SeedReplicaTests
{
    private static ModelCard Card(string? provenance) => new()
    {
        Id = "m", DisplayName = "m", Family = "CNN", Format = "torchsharp", File = "model.dat", InputShape = [1, 28, 28], Provenance = provenance,
    };

    [Fact]
    public void The_key_is_the_training_command_without_seed_output_and_run_summary()
    {
        const string setting = "eqlab train --arch cnn7 --data fmnist6 --epochs 10";
        Assert.Equal(setting, ReplicaKey.TrainingSetting(Card(
            "eqlab train --arch cnn7 --data fmnist6 --epochs 10 --seed 0 --out models/cnn7-fmnist6 (seed 0; 10 epoch(s) of 36,000 images, 2820 steps)")));
        Assert.Equal(setting, ReplicaKey.TrainingSetting(Card(
            "eqlab train --arch cnn7 --data fmnist6 --epochs 10 --seed 1 --out models/cnn7-fmnist6-seed1 (seed 1; 10 epoch(s) of 36,000 images, 2820 steps)")));
        // Names, threads and the data folder are not the setting either; "=" forms and quoted values are one token.
        Assert.Equal(setting, ReplicaKey.TrainingSetting(Card(
            "eqlab train --arch cnn7 --name 'seed (seed 2) '\\''b'\\''' --data fmnist6 --threads 2 --epochs 10 --seed=2 --id x --data-folder /d --out=y (seed 2; …)")));
        // Anything else that differs makes another setting.
        Assert.NotEqual(setting, ReplicaKey.TrainingSetting(Card("eqlab train --arch cnn7 --data fmnist6 --epochs 3 --seed 1 --out z (seed 1; …)")));
        Assert.NotEqual(setting, ReplicaKey.TrainingSetting(Card("eqlab train --arch cnn7 --data fmnist6 --epochs 10 --augment crop --seed 0 --out z (seed 0; …)")));
        // Not trained by eqlab train: a setting of its own.
        Assert.Null(ReplicaKey.TrainingSetting(Card("torchvision, pretrained")));
        Assert.Null(ReplicaKey.TrainingSetting(Card(null)));
        Assert.Equal("model:control-rotation-invariant", Zoo.Builtin("control-rotation-invariant").ReplicaKey);
    }

    [Fact]
    public void A_slots_replicas_follow_one_another_lowest_seed_first_and_are_named_after_it()
    {
        using var zoo = new FakeZoo();
        zoo.Add("cnn7-fmnist6", "cnn7", "fmnist6", classes: 6);
        zoo.Add("cnn7-fmnist6-long", "cnn7", "fmnist6", classes: 6, extra: "--epochs 20"); // same slot, another setting
        zoo.Add("cnn7-fmnist6-seed1", "cnn7", "fmnist6", classes: 6, seed: 1);
        zoo.Add("cnn7-fmnist6-seed2", "cnn7", "fmnist6", classes: 6, seed: 2);
        // A replica whose id sorts before its seed-0 model's: the seed decides, not the id.
        zoo.Add("again-rotinv", "cnn7", "fmnist6-rot-inv", classes: 6, seed: 1);
        zoo.Add("rotinv", "cnn7", "fmnist6-rot-inv", classes: 6);
        var scanned = zoo.Scan();
        Assert.Equal(1, scanned.Entries.Single(e => e.Id == "again-rotinv").Seed);

        var study = StudyCatalog.Resolve(StudyCatalog.Get("task-symmetry"), scanned);
        Assert.Equal(
        [
            ("cnn7-fmnist6", "cnn7-fmnist6"), ("cnn7-fmnist6-seed1", "cnn7-fmnist6"), ("cnn7-fmnist6-seed2", "cnn7-fmnist6"),
            ("cnn7-fmnist6-long", "cnn7-fmnist6-long"), ("rotinv", "rotinv"), ("again-rotinv", "rotinv"),
        ], study.Members.Select(m => (m.Entry.Id, m.Setting)));
        Assert.Equal(["cnn7-fmnist6-roteq"], study.Missing.Select(s => s.ExpectedId));
    }

    [Fact]
    public void A_seed_replica_is_a_nonzero_seed_of_a_command_the_zoo_also_has_at_seed_0()
    {
        using var zoo = new FakeZoo();
        zoo.Add("m", "cnn7", "fmnist6");
        zoo.Add("m-seed1", "cnn7", "fmnist6", seed: 1);
        zoo.Add("lone-seed2", "cnn7", "fmnist6", seed: 2, extra: "--epochs 4"); // no seed-0 model of its command
        zoo.AddBuiltin("control", "control-rotation-invariant");
        var scanned = zoo.Scan();
        Assert.Equal(["m-seed1"], scanned.Entries.Where(scanned.IsSeedReplica).Select(e => e.Id));
    }

    [Fact]
    public void Models_that_share_a_slot_but_not_a_training_command_are_not_replicas()
    {
        // The architecture study's CNN slot takes every CNN on fmnist without augmentation: a ResNet and a WRN stay apart.
        using var zoo = new FakeZoo();
        zoo.Add("resnet20-fmnist", "resnet20", "fmnist", augment: "none");
        zoo.Add("resnet20-fmnist-seed1", "resnet20", "fmnist", augment: "none", seed: 1);
        zoo.Add("wrn16-1-fmnist", "wrn16", "fmnist", options: new() { ["base"] = 4 });
        var members = StudyCatalog.Resolve(StudyCatalog.Get("architecture"), zoo.Scan()).Members.Where(m => m.Slot.Label == "CNN");
        Assert.Equal([("resnet20-fmnist", "resnet20-fmnist"), ("resnet20-fmnist-seed1", "resnet20-fmnist"), ("wrn16-1-fmnist", "wrn16-1-fmnist")],
            members.Select(m => (m.Entry.Id, m.Setting)));
    }
}
