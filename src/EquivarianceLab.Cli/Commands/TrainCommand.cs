using System.CommandLine;
using System.Globalization;
using EquivarianceLab.Architectures;
using EquivarianceLab.Probes;
using EquivarianceLab.Training;

namespace EquivarianceLab.Cli.Commands;

/// <summary>
/// <c>eqlab train</c>: trains one of the project's architectures on a Fashion-MNIST task and writes the checkpoint with
/// its model card (docs/training.md).
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var arch = new Option<string?>("--arch") { Description = $"Architecture: {string.Join(", ", ArchitectureRegistry.Names)}." };
        var data = new Option<string>("--data")
        {
            Description = $"Task: {string.Join(", ", TrainingData.VariantNames)}.",
            DefaultValueFactory = _ => "fmnist",
        };
        var augment = new Option<string>("--augment")
        {
            Description = $"Augmentation: {string.Join(", ", Augmentation.Names)} (comma-separated to combine).",
            DefaultValueFactory = _ => "none",
        };
        var width = new Option<int>("--width") { Description = "Width factor (channels × width; WRN's k).", DefaultValueFactory = _ => 1 };
        var epochs = new Option<int?>("--epochs") { Description = "Epochs (default: the architecture's scaled-down default, see docs/training.md)." };
        var batch = new Option<int>("--batch") { Description = "Batch size.", DefaultValueFactory = _ => 128 };
        var seed = new Option<int>("--seed") { Description = "Random seed (weights, shuffle, augmentation).", DefaultValueFactory = _ => 0 };
        var lr = new Option<double?>("--lr") { Description = "Base learning rate (default: the paper's for the architecture)." };
        var trainLimit = new Option<int?>("--train-limit") { Description = "Train on the first N images of the training set only." };
        var dataFolder = new Option<string?>("--data-folder")
        {
            Description = "A folder with Fashion-MNIST's IDX files (train-/t10k-images-idx3-ubyte[.gz] and labels), searched before models/data/fashion-mnist and /usr/share/datasets/fashion-mnist.",
        };
        var option = new Option<string[]>("--option")
        {
            Description = "Further architecture option NAME=INTEGER (repeatable), e.g. depth=40, base=4, dim=64.",
            AllowMultipleArgumentsPerToken = false,
        };
        var output = new Option<string?>("--out") { Description = "Output folder (model.dat + card.json) or weight file (.dat, .pt, .pth, .safetensors; card beside it)." };
        var id = new Option<string?>("--id") { Description = "Model id for the card (default: the folder or file name)." };
        var name = new Option<string?>("--name") { Description = "Display name for the card." };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for TorchSharp (default: all cores)." };
        var similarity = new Option<bool>("--rotation-similarity")
        {
            Description = "Print which Fashion-MNIST classes look like 90° rotations of themselves or each other (how FMNIST-6 is chosen) and exit.",
        };

        var command = new Command("train", "Train a model on Fashion-MNIST (FMNIST-6, -Rot-Inv, -Rot-Eq) and write its checkpoint and model card.")
        {
            arch, data, augment, width, epochs, batch, seed, lr, trainLimit, dataFolder, option, output, id, name, threads, similarity,
        };

        command.SetAction((parseResult, cancellationToken) =>
        {
            var stdout = parseResult.InvocationConfiguration.Output;
            var stderr = parseResult.InvocationConfiguration.Error;
            try
            {
                if (parseResult.GetValue(threads) is int t)
                {
                    if (t < 1) throw new EquivarianceLabException("--threads must be at least 1.");
                    TorchSharp.torch.set_num_threads(t);
                }
                if (parseResult.GetValue(similarity))
                {
                    var files = FashionMnist.Locate(FashionMnistSplit.Train, parseResult.GetValue(dataFolder));
                    var report = RotationSimilarity.Compute(FashionMnist.LoadImages(files.Images), FashionMnist.LoadLabels(files.Labels));
                    stdout.Write(report.Format());
                    return Task.FromResult(0);
                }
                var request = new TrainRequest
                {
                    Architecture = parseResult.GetValue(arch) ?? throw new EquivarianceLabException("--arch is required."),
                    Data = TrainingData.Parse(parseResult.GetValue(data) ?? "fmnist"),
                    Augmentations = Augmentation.Parse(parseResult.GetValue(augment)),
                    Width = Positive(parseResult.GetValue(width), "--width"),
                    Epochs = parseResult.GetValue(epochs) is int e ? Positive(e, "--epochs") : null,
                    BatchSize = parseResult.GetValue(batch) is var b && b >= 2 ? b : throw new EquivarianceLabException("--batch must be at least 2."),
                    Seed = parseResult.GetValue(seed),
                    LearningRate = parseResult.GetValue(lr) is double l ? (l > 0 ? l : throw new EquivarianceLabException("--lr must be positive.")) : null,
                    TrainLimit = parseResult.GetValue(trainLimit),
                    DataFolder = parseResult.GetValue(dataFolder),
                    Options = ParseOptions(parseResult.GetValue(option) ?? []),
                    Out = parseResult.GetValue(output) ?? throw new EquivarianceLabException("--out is required (a folder or a weight file)."),
                    Id = parseResult.GetValue(id),
                    DisplayName = parseResult.GetValue(name),
                    CommandLine = CommandLineOf(parseResult),
                };
                var bar = new ConsoleProgress(stderr, ReferenceEquals(stderr, Console.Error) && !Console.IsErrorRedirected).ForTraining();
                var outcome = TrainingRun.Run(request, bar, stderr, cancellationToken);
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{outcome.Card.Id}: test accuracy {outcome.Accuracy:F2}% on {outcome.Card.AccuracyDataset} ({outcome.Elapsed.TotalMinutes:F1} min)"));
                stdout.WriteLine($"Checkpoint: {outcome.CheckpointPath}");
                stdout.WriteLine($"Card:       {outcome.CardPath}");
                return Task.FromResult(0);
            }
            catch (EquivarianceLabException ex)
            {
                stderr.WriteLine($"eqlab: {ex.Message}");
                return Task.FromResult(CliErrors.UserError);
            }
            catch (OperationCanceledException)
            {
                stderr.WriteLine("eqlab: training cancelled; nothing was written.");
                return Task.FromResult(CliErrors.Cancelled);
            }
        });
        return command;
    }

    private static int Positive(int value, string name) =>
        value >= 1 ? value : throw new EquivarianceLabException($"{name} must be at least 1.");

    private static Dictionary<string, int> ParseOptions(string[] items)
    {
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            var parts = item.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2 || parts[0].Length == 0 || !int.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
                throw new EquivarianceLabException($"--option '{item}' is not NAME=INTEGER (e.g. depth=40).");
            result[parts[0]] = value;
        }
        return result;
    }

    /// <summary>The command as typed: <c>eqlab</c> followed by every token, quoted where needed.</summary>
    private static string CommandLineOf(ParseResult parseResult) =>
        "eqlab " + string.Join(" ", parseResult.Tokens.Select(t => Quote(t.Value)));

    private static string Quote(string s) =>
        s.Length > 0 && s.All(c => char.IsLetterOrDigit(c) || "-_./=,:+@%".Contains(c)) ? s : "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
