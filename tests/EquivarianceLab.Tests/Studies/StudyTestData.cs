using System.Text.Json;
using EquivarianceLab.Architectures;
using EquivarianceLab.Cards;
using EquivarianceLab.Checkpoints;
using EquivarianceLab.Measure;
using EquivarianceLab.Studies;

namespace EquivarianceLab.Tests.Studies;

/// <summary>A throw-away models folder with cards written the way <c>eqlab train</c> writes them.</summary>
public sealed class FakeZoo : IDisposable
{
    public string Folder { get; } = Directory.CreateTempSubdirectory("eqlab-zoo-").FullName;

    /// <summary>
    /// Adds <c>FOLDER/ID/card.json</c> for an <c>eqlab train</c> run. With <paramref name="realWeights"/> the checkpoint holds
    /// fresh weights of the architecture (loadable; another <paramref name="seed"/>, other weights); otherwise it is a
    /// placeholder file (enough for resolving). <paramref name="extra"/> goes into the recorded command before <c>--seed</c>.
    /// </summary>
    public ModelCard Add(string id, string arch, string data, string? augment = null, int width = 1, double? accuracy = 90,
        string family = "CNN", bool realWeights = false, int classes = 10, Dictionary<string, int>? options = null, int seed = 0, string? extra = null)
    {
        var dir = Directory.CreateDirectory(Path.Combine(Folder, id)).FullName;
        var opts = new Dictionary<string, JsonElement>
        {
            ["inChannels"] = JsonSerializer.SerializeToElement(1),
            ["classes"] = JsonSerializer.SerializeToElement(classes),
        };
        if (ArchitectureRegistry.Info(arch).HasWidth) opts["width"] = JsonSerializer.SerializeToElement(width);
        foreach (var (k, v) in options ?? []) opts[k] = JsonSerializer.SerializeToElement(v);
        var file = Path.Combine(dir, "model.dat");
        if (realWeights)
        {
            TorchSharp.torch.manual_seed(1 + seed);
            using var module = ArchitectureRegistry.CreateHooked(arch, opts, out var resolved);
            CheckpointIO.Save(module, file);
            opts = resolved;
        }
        else
        {
            File.WriteAllText(file, "placeholder");
        }
        var command = $"eqlab train --arch {arch} --data {data}{(augment is null ? "" : " --augment " + augment)}{(width == 1 ? "" : $" --width {width}")}" +
            $"{(extra is null ? "" : " " + extra)} --seed {seed} --out models/{id}";
        var card = new ModelCard
        {
            Id = id,
            DisplayName = id,
            Family = family,
            Format = "torchsharp",
            File = "model.dat",
            Architecture = arch,
            ArchitectureOptions = opts,
            InputShape = [1, 28, 28],
            Preprocessing = EquivarianceLab.Training.TrainingData.Preprocessing,
            Accuracy = accuracy,
            AccuracyDataset = data + "/test",
            Provenance = $"{command} (seed {seed}; 1 epoch(s) of 100 images, 2 steps, 0.1 min on 2 CPU thread(s))",
            Seed = seed,
            DefaultProbe = "data/fashion-mnist/t10k-images-idx3-ubyte.gz",
        };
        card.Save(Path.Combine(dir, "card.json"));
        return card;
    }

    /// <summary>A zoo card for a built-in control (format <c>builtin</c>, no file), as the dashboard lists them.</summary>
    public void AddBuiltin(string id, string name)
    {
        var dir = Directory.CreateDirectory(Path.Combine(Folder, id)).FullName;
        new ModelCard
        {
            Id = id, DisplayName = id, Family = "Control", Format = "builtin", File = "", Architecture = name, InputShape = [1, -1, -1],
        }.Save(Path.Combine(dir, "card.json"));
    }

    /// <summary>Links the shipped Fashion-MNIST test images into <c>FOLDER/data/fashion-mnist</c>, where the cards' defaultProbe points.</summary>
    public void AddFashionMnist()
    {
        var source = Zoo.FashionMnistTestImages(FeatureModels.RepositoryPaths.ModelsFolder);
        var target = Directory.CreateDirectory(Path.Combine(Folder, "data", "fashion-mnist")).FullName;
        File.Copy(source, Path.Combine(target, Path.GetFileName(source)), overwrite: true);
    }

    public Zoo Scan() => Zoo.Scan(Folder);

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>Hand-made study entries for the output and correlation tests.</summary>
public static class SyntheticResults
{
    /// <summary>A result whose parts are given as (part, invariance, equivariance); one layer per part.</summary>
    public static StudyEntry Entry(string id, double? accuracy, string transform, params (string Part, double? Inv, double? Eqv)[] parts) =>
        Entry(id, accuracy, "fmnist/test", transform, parts);

    public static StudyEntry Entry(string id, double? accuracy, string? dataset, string transform, params (string Part, double? Inv, double? Eqv)[] parts)
    {
        var layers = parts.Select((p, i) => new LayerResult
        {
            Name = $"layer{i}",
            Index = i,
            Part = p.Part,
            Shape = p.Part is "Pool" or "Final" ? [8] : [8, 7, 7],
            Invariance = p.Inv,
            Equivariance = p.Eqv,
            PerTransform = new Dictionary<string, Score> { [transform == "rotation" ? "rot90" : "shift1"] = new(p.Inv, p.Eqv) },
        }).ToList();
        return new StudyEntry
        {
            ModelId = id,
            Label = id.ToUpperInvariant(),
            DisplayName = $"Model {id}",
            Accuracy = accuracy,
            AccuracyDataset = accuracy is null ? null : dataset,
            Result = new MeasurementResult
            {
                Model = id,
                Probe = "t10k-images-idx3-ubyte.gz",
                Transform = transform,
                Similarity = "pearson",
                Images = 10,
                MaxShift = transform == "translation" ? 4 : 16,
                Layers = layers,
                Parts = EquivarianceMeasure.AggregateParts(layers),
                Timing = new Timing(1, 0.5),
            },
        };
    }
}
