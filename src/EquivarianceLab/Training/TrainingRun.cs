using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EquivarianceLab.Architectures;
using EquivarianceLab.Cards;
using EquivarianceLab.Checkpoints;
using EquivarianceLab.Probes;
using TorchSharp;

namespace EquivarianceLab.Training;

/// <summary>One <c>eqlab train</c> run: what to train and where to write it.</summary>
public sealed record TrainRequest
{
    public required string Architecture { get; init; }
    public DataVariant Data { get; init; } = DataVariant.Fmnist;
    public IReadOnlyList<AugmentationKind> Augmentations { get; init; } = [];
    public int Width { get; init; } = 1;
    /// <summary>Null = the architecture's scaled-down default (<see cref="TrainingDefaults"/>).</summary>
    public int? Epochs { get; init; }
    public int BatchSize { get; init; } = 128;
    public int Seed { get; init; }
    /// <summary>Overrides the schedule's base learning rate.</summary>
    public double? LearningRate { get; init; }
    /// <summary>Train on the first N images of the variant's training set only.</summary>
    public int? TrainLimit { get; init; }
    /// <summary>A folder searched first for the Fashion-MNIST IDX files (before the repository's copy and Debian's).</summary>
    public string? DataFolder { get; init; }
    /// <summary>Further architecture options (depth, base, dim, …).</summary>
    public IReadOnlyDictionary<string, int> Options { get; init; } = new Dictionary<string, int>();
    /// <summary>A folder (gets <c>model.dat</c> + <c>card.json</c>) or a weight file path (.dat/.pt/.pth/.safetensors; card beside it as <c>FILE.card.json</c>).</summary>
    public required string Out { get; init; }
    public string? Id { get; init; }
    public string? DisplayName { get; init; }
    /// <summary>The exact command line, for the card's provenance.</summary>
    public required string CommandLine { get; init; }
    /// <summary>Stop after this many steps (tests).</summary>
    public int? MaxSteps { get; init; }
}

public sealed record TrainOutcome(ModelCard Card, string CardPath, string CheckpointPath, double Accuracy, TrainingResult Training, TimeSpan Elapsed);

/// <summary>The scaled-down defaults that keep each zoo model within about ten minutes on two CPU cores (docs/training.md).</summary>
public static class TrainingDefaults
{
    public const string CheckpointFileName = "model.dat";

    public static int Epochs(string architecture) => ArchitectureRegistry.Info(architecture).Name switch
    {
        "cnn7" => 10,
        "vit-small" or "mixer-small" => 8,
        "resnet18" or "resnet50" => 2,
        _ => 3,
    };
}

public static class TrainingRun
{
    /// <summary>Trains, measures test accuracy on the matching test variant, writes the checkpoint and its model card.</summary>
    public static TrainOutcome Run(TrainRequest request, IProgress<TrainingProgress>? progress = null, TextWriter? log = null, CancellationToken cancellationToken = default)
    {
        var total = Stopwatch.StartNew();
        var info = ArchitectureRegistry.Info(request.Architecture);
        var (checkpointPath, cardPath, id) = ResolveOutput(request);
        if (request.TrainLimit is < 2) throw new EquivarianceLabException("--train-limit must be at least 2.");
        int epochs = request.Epochs ?? TrainingDefaults.Epochs(info.Name);

        var options = new Dictionary<string, JsonElement>(StringComparer.Ordinal)
        {
            ["inChannels"] = JsonSerializer.SerializeToElement(1),
            ["classes"] = JsonSerializer.SerializeToElement(TrainingData.ClassCount(request.Data)),
        };
        bool hasWidth = info.HasWidth;
        if (hasWidth) options["width"] = JsonSerializer.SerializeToElement(request.Width);
        else if (request.Width != 1) throw new EquivarianceLabException($"{info.Name} has no width option (its options: {info.Options}).");
        foreach (var (key, value) in request.Options)
        {
            var norm = ArchitectureOptions.Normalize(key);
            if (norm is "inchannels" or "classes" || (norm == "width" && hasWidth))
                throw new EquivarianceLabException($"Option '{key}' is set by the training command itself (use --data / --width).");
            options[key] = JsonSerializer.SerializeToElement(value);
        }

        log?.WriteLine($"Loading {TrainingData.DisplayName(request.Data)} …");
        using var train = TrainingData.Load(request.Data, FashionMnistSplit.Train, request.TrainLimit, request.DataFolder);
        using var test = TrainingData.Load(request.Data, FashionMnistSplit.Test, dataFolder: request.DataFolder);

        torch.manual_seed(request.Seed);
        using var model = ArchitectureRegistry.CreateHooked(info.Name, options, out var resolved);
        var schedule = TrainingSchedule.For(info.Name);
        if (request.LearningRate is double lr) schedule = schedule with { LearningRate = lr };
        var settings = new TrainingSettings
        {
            Epochs = epochs,
            BatchSize = request.BatchSize,
            Seed = request.Seed,
            Augmentations = request.Augmentations,
            Schedule = schedule,
            MaxSteps = request.MaxSteps,
        };
        long parameters = model.parameters().Sum(p => p.numel());
        bool oneDnn = TrainingConvolutions.OneDnnIsSafe(model, imageChannels: 1);
        string convolutions = TrainingConvolutions.Describe(oneDnn);
        log?.WriteLine($"Training {info.Name} ({parameters:N0} parameters) on {train.Count:N0} images of {train.Name}, {epochs} epoch(s), batch {request.BatchSize}, " +
                       $"augmentation {Augmentation.Describe(request.Augmentations)}, {schedule.Describe()}, seed {request.Seed}, {torch.get_num_threads()} thread(s), {convolutions}.");
        TrainingResult result;
        using (oneDnn ? NativeRuntime.UseOneDnnConvolutions() : null)
            result = Trainer.Train(model, train, settings, progress, cancellationToken);

        log?.WriteLine($"Measuring accuracy on {test.Name} ({test.Count:N0} images) …");
        double accuracy = Math.Round(Evaluation.Accuracy(model, test), 2);
        CheckpointIO.Save(model, checkpointPath);

        var card = new ModelCard
        {
            Id = id,
            DisplayName = request.DisplayName ?? DefaultDisplayName(info, request),
            Family = info.Family,
            Format = CheckpointIO.CardFormat(checkpointPath),
            File = Path.GetFileName(checkpointPath),
            Architecture = info.Name,
            ArchitectureOptions = resolved,
            InputShape = [1, 28, 28],
            Preprocessing = TrainingData.Preprocessing,
            Accuracy = accuracy,
            AccuracyDataset = test.Name,
            Provenance = $"{request.CommandLine} (seed {request.Seed}; {epochs} epoch(s) of {train.Count:N0} images, {result.Steps} steps, " +
                         $"{result.Elapsed.TotalMinutes:F1} min on {torch.get_num_threads()} CPU thread(s) with {convolutions}; " +
                         $"final training loss {result.EpochLoss.LastOrDefault():F3}, training accuracy {result.EpochAccuracy.LastOrDefault():F1}%)",
            Seed = request.Seed,
            DefaultProbe = "data/fashion-mnist/t10k-images-idx3-ubyte.gz",
            Notes = $"Trained by eqlab train on {TrainingData.DisplayName(request.Data)} ({train.Name}); augmentation {Augmentation.Describe(request.Augmentations)}; " +
                    $"{schedule.Describe()}. Accuracy {accuracy.ToString("F2", CultureInfo.InvariantCulture)}% on {test.Name} ({test.Count:N0} images).",
        };
        card.Save(cardPath);
        return new TrainOutcome(card, cardPath, checkpointPath, accuracy, result, total.Elapsed);
    }

    /// <summary>Where a request writes: (checkpoint, card, id).</summary>
    public static (string Checkpoint, string Card, string Id) ResolveOutput(TrainRequest request)
    {
        if (string.IsNullOrWhiteSpace(request.Out)) throw new EquivarianceLabException("--out is required (a folder, or a .dat/.pt/.pth/.safetensors file).");
        var ext = Path.GetExtension(request.Out).ToLowerInvariant();
        if (ext is ".dat" or ".pt" or ".pth" or ".safetensors")
        {
            var file = Path.GetFullPath(request.Out);
            return (file, file + ".card.json", request.Id ?? Path.GetFileNameWithoutExtension(file));
        }
        var dir = Path.GetFullPath(request.Out);
        return (Path.Combine(dir, TrainingDefaults.CheckpointFileName), Path.Combine(dir, "card.json"),
                request.Id ?? new DirectoryInfo(dir).Name);
    }

    private static string DefaultDisplayName(ArchitectureInfo info, TrainRequest r)
    {
        string arch = info.Name switch
        {
            "cnn7" => "7-layer CNN",
            "resnet" => $"ResNet-{(r.Options.TryGetValue("depth", out var d) ? d : 20)}",
            "resnet20" => "ResNet-20",
            "resnet44" => "ResNet-44",
            "wrn" or "wrn16" or "wrn40" => $"WRN-{(info.Name == "wrn40" ? 40 : info.Name == "wrn16" ? 16 : r.Options.TryGetValue("depth", out var wd) ? wd : 16)}-{r.Width}",
            "vit-small" => "ViT-small",
            "mixer-small" => "MLP-Mixer-small",
            "resnet18" => "ResNet-18",
            _ => "ResNet-50",
        };
        if (info.Name is not ("wrn" or "wrn16" or "wrn40") && r.Width != 1) arch += $" ×{r.Width}";
        var aug = r.Augmentations.Count == 0 ? "" : $", {Augmentation.Describe(r.Augmentations)}";
        return $"{arch} on {TrainingData.DisplayName(r.Data)}{aug}";
    }
}

/// <summary>Re-measures the accuracy a model card reports, on the data set it names.</summary>
public static class CardAccuracy
{
    /// <summary>
    /// Loads the card's weight file and measures top-1 accuracy (%) on <c>card.AccuracyDataset</c> (e.g. <c>fmnist6/test</c>),
    /// looking for the data in <paramref name="dataFolder"/> first when given (as <c>eqlab train --data-folder</c> does).
    /// </summary>
    public static double Measure(ModelCard card, string cardDirectory, string? dataFolder = null)
    {
        if (string.IsNullOrWhiteSpace(card.AccuracyDataset))
            throw new EquivarianceLabException($"The card of {card.Id} names no accuracyDataset.");
        var (variant, split) = TrainingData.ParseSplitName(card.AccuracyDataset);
        using var data = TrainingData.Load(variant, split, dataFolder: dataFolder);
        using var model = CheckpointIO.Load(Path.Combine(cardDirectory, card.File), card);
        return Evaluation.Accuracy(model, data, card.Preprocessing);
    }
}
