using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using EquivarianceLab.Studies;

namespace EquivarianceLab.Tests.Studies;

/// <summary>The study definitions: which zoo cards each study selects, what it reports missing.</summary>
public class StudyDefinitionTests
{
    [Fact]
    public void Every_study_resolves_against_the_current_zoo_and_its_models_open_with_their_probes()
    {
        var zoo = Zoo.Load();
        Assert.NotNull(zoo.Folder);
        Assert.True(zoo.Problems.Count == 0, "Unreadable zoo cards: " + string.Join("; ", zoo.Problems));
        var opened = new HashSet<string>(StringComparer.Ordinal);
        foreach (var study in StudyCatalog.All)
        {
            var resolved = StudyCatalog.Resolve(study, zoo);
            Assert.Equal(resolved.Members.Count, resolved.Members.Select(m => m.Entry.Id).Distinct().Count());
            foreach (var member in resolved.Members)
            {
                Assert.True(member.Entry.IsBuiltin || member.Slot.Matches(member.Entry), $"{study.Name}: {member.Entry.Id} does not match its slot");
                // One model per setting is opened: seed replicas share their architecture, card and probe (and the
                // zoo holds three seeds of every trained model), so the others would only repeat the same load.
                if (!opened.Add(member.Entry.ReplicaKey)) continue;
                var probe = zoo.ProbeFor(member.Entry, Zoo.FashionMnistTestImages(zoo.Folder));
                var (model, probeSet) = MeasurementInputs.Open(member.Entry.Source, probe, member.Entry.Card);
                using (model)
                using (probeSet)
                {
                    Assert.True(model.Layers.Count > 0);
                    Assert.True(probeSet.Count >= StudyRunOptions.DefaultImages);
                    if (study.Measurements.Any(m => m.Transform == TransformFamily.Rotation))
                        Assert.Equal(probeSet.ImageShape[1], probeSet.ImageShape[2]);
                }
            }
            // Every slot is either filled or reported missing (the accuracy study's open slot may be empty).
            foreach (var slot in study.Slots.Where(s => !s.Optional))
                Assert.True(resolved.Members.Any(m => m.Slot == slot) ^ resolved.Missing.Contains(slot), $"{study.Name}/{slot.Label}");
        }
        // The controls are built in: always complete.
        var controls = StudyCatalog.Resolve(StudyCatalog.Get("controls"), zoo);
        Assert.True(controls.IsComplete);
        Assert.Equal(["control-rotation-invariant", "control-rotation-equivariant"], controls.Members.Select(m => m.Entry.Id));
    }

    [Fact]
    public void Every_trained_Fashion_MNIST_model_of_the_zoo_is_in_the_accuracy_study()
    {
        var zoo = Zoo.Load();
        var accuracy = StudyCatalog.Resolve(StudyCatalog.Get("accuracy"), zoo).Members.Select(m => m.Entry.Id).ToHashSet();
        foreach (var entry in zoo.Entries.Where(e => e.IsFashionMnist && e.Accuracy is not null))
            Assert.Contains(entry.Id, accuracy);
        Assert.DoesNotContain("imagenet-resnet18", accuracy);
    }

    [Fact]
    public void Studies_select_models_by_their_cards_not_their_ids()
    {
        using var zoo = new FakeZoo();
        zoo.Add("a", "cnn7", "fmnist6");
        zoo.Add("b", "cnn7", "fmnist6-rot-eq", classes: 24);
        zoo.Add("c", "cnn7", "fmnist6-rot-inv", augment: "crop");           // augmented: not in task-symmetry
        zoo.Add("d", "resnet20", "fmnist");
        zoo.Add("e", "resnet44", "fmnist", augment: "randaugment");
        zoo.Add("f", "resnet20", "fmnist", augment: "crop,flip");           // a combination: no slot of its own
        zoo.Add("g", "wrn16", "fmnist", width: 2, options: new() { ["base"] = 4 });
        zoo.Add("h", "wrn", "fmnist", width: 8, options: new() { ["depth"] = 16, ["base"] = 4 });
        zoo.Add("i", "vit-small", "fmnist", family: "ViT");
        zoo.Add("j", "mixer-small", "fmnist", family: "MLP-Mixer", accuracy: null);
        var scanned = zoo.Scan();

        string[] Ids(string study) => [.. StudyCatalog.Resolve(StudyCatalog.Get(study), scanned).Members.Select(m => m.Entry.Id)];
        string[] Missing(string study) => [.. StudyCatalog.Resolve(StudyCatalog.Get(study), scanned).Missing.Select(s => s.ExpectedId)];

        Assert.Equal(["a", "b"], Ids("task-symmetry"));
        Assert.Equal(["cnn7-fmnist6-rotinv"], Missing("task-symmetry"));
        Assert.Equal(["d", "e"], Ids("augmentation"));
        Assert.Equal(["resnet20-fmnist-crop", "resnet20-fmnist-flip", "resnet20-fmnist-cutmix"], Missing("augmentation"));
        Assert.Equal(["g", "h"], Ids("capacity"));
        Assert.Equal(["wrn16-1-fmnist", "wrn16-4-fmnist"], Missing("capacity"));
        // CNNs on the 10-class task without augmentation, then the ViT and the Mixer.
        Assert.Equal(["d", "g", "h", "i", "j"], Ids("architecture"));
        Assert.Empty(Missing("architecture"));
        // Fashion-MNIST models with an accuracy, in slot order; the open slot takes the rest (c, f); j has no accuracy.
        Assert.Equal(["a", "b", "d", "e", "g", "h", "i", "c", "f"], Ids("accuracy"));
        Assert.Contains("mixer-small-fmnist", Missing("accuracy"));
        // Without zoo cards the controls fall back to the built-in models.
        Assert.Equal(["builtin:control-rotation-invariant", "builtin:control-rotation-equivariant"],
            StudyCatalog.Resolve(StudyCatalog.Get("controls"), scanned).Members.Select(m => m.Entry.Source));
    }

    [Fact]
    public void Control_cards_in_the_zoo_are_used_and_load_as_the_built_in_models()
    {
        using var zoo = new FakeZoo();
        zoo.AddBuiltin("my-invariant-control", "control-rotation-invariant");
        var resolved = StudyCatalog.Resolve(StudyCatalog.Get("controls"), zoo.Scan());
        Assert.Equal(["my-invariant-control", "control-rotation-equivariant"], resolved.Members.Select(m => m.Entry.Id));
        Assert.Equal(Path.Combine(zoo.Folder, "my-invariant-control"), resolved.Members[0].Entry.Source);
        using var model = ModelLoader.Load(resolved.Members[0].Entry.Source, resolved.Members[0].Entry.Card);
        Assert.Equal(["layer1", "layer2", "layer3", "pool", "logits"], model.Layers);
    }

    [Fact]
    public void The_augmentation_comes_from_the_training_command_or_the_notes()
    {
        using var zoo = new FakeZoo();
        var plain = zoo.Add("plain", "resnet20", "fmnist");
        var both = zoo.Add("both", "resnet20", "fmnist", augment: "flip,crop");
        Assert.Equal("none", ZooEntry.AugmentationOf(plain));
        Assert.Equal("crop,flip", ZooEntry.AugmentationOf(both));
        Assert.Equal("randaugment", ZooEntry.AugmentationOf(plain with { Provenance = "eqlab train --arch resnet20 --augment=RandAugment --out x" }));
        Assert.Equal("cutmix", ZooEntry.AugmentationOf(plain with { Provenance = null, Notes = "Trained by eqlab train on X; augmentation cutmix; SGD." }));
        Assert.Null(ZooEntry.AugmentationOf(plain with { Provenance = "torchvision, pretrained", Notes = null }));
    }

    [Fact]
    public void An_empty_zoo_leaves_every_trained_study_missing_all_its_models()
    {
        using var zoo = new FakeZoo();
        var scanned = zoo.Scan();
        var study = StudyCatalog.Resolve(StudyCatalog.Get("task-symmetry"), scanned);
        Assert.Empty(study.Members);
        Assert.Equal(["cnn7-fmnist6", "cnn7-fmnist6-rotinv", "cnn7-fmnist6-roteq"], study.Missing.Select(s => s.ExpectedId));
        Assert.Contains(study.DescribeMissing(), m => m.Contains("eqlab train --arch cnn7 --data fmnist6-rot-eq", StringComparison.Ordinal));
        var ex = Assert.Throws<EquivarianceLabException>(() => StudyCatalog.Get("symmetry"));
        Assert.Contains("controls, task-symmetry, augmentation, capacity, architecture, accuracy", ex.Message);
    }

    [Fact]
    public void A_broken_card_is_a_problem_not_an_error()
    {
        using var zoo = new FakeZoo();
        zoo.Add("ok", "cnn7", "fmnist6");
        Directory.CreateDirectory(Path.Combine(zoo.Folder, "broken"));
        File.WriteAllText(Path.Combine(zoo.Folder, "broken", "card.json"), "{ not json");
        zoo.Add("nofile", "cnn7", "fmnist6-rot-inv");
        File.Delete(Path.Combine(zoo.Folder, "nofile", "model.dat"));
        var scanned = zoo.Scan();
        Assert.Equal(["ok"], scanned.Entries.Select(e => e.Id));
        Assert.Equal(2, scanned.Problems.Count);
        Assert.Contains(scanned.Problems, p => p.StartsWith("broken:", StringComparison.Ordinal));
        Assert.Contains(scanned.Problems, p => p.Contains("model.dat is missing", StringComparison.Ordinal));
    }
}
