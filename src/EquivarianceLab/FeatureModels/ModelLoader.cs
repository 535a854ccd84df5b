using EquivarianceLab.Architectures;
using EquivarianceLab.Cards;
using EquivarianceLab.Checkpoints;
using EquivarianceLab.Compute;
using EquivarianceLab.Controls;
using EquivarianceLab.FeatureModels.Onnx;

namespace EquivarianceLab.FeatureModels;

/// <summary>
/// Opens any model source (docs/models-and-probes.md, "Model sources") as a feature model: an <c>.onnx</c> graph, a
/// TorchSharp <c>.dat</c> or PyTorch <c>.pt/.pth/.safetensors</c> weight file of an architecture the project
/// implements (named by its card), a folder holding a <c>card.json</c>, a zoo id (<c>models/&lt;id&gt;</c>), or a
/// built-in control (<c>builtin:control-rotation-invariant</c>).
/// </summary>
public static class ModelLoader
{
    public const string BuiltinPrefix = "builtin:";

    /// <summary><c>arch:NAME</c> builds one of the project's architectures with fresh, seeded weights (benchmarks, untrained baselines).</summary>
    public const string ArchitecturePrefix = "arch:";

    /// <summary>Model card formats.</summary>
    public const string OnnxFormat = "onnx", TorchSharpFormat = "torchsharp", PyTorchFormat = "pytorch", BuiltinFormat = "builtin";

    /// <param name="probeShape">The probe images' [C, H, W], when known: ONNX graphs with free dimensions find their
    /// layer shapes (and so the default selection) at this size.</param>
    /// <param name="onnxLimits">Static limits for ONNX graphs (default <see cref="OnnxLimits.Default"/>), checked before ONNX Runtime sees the file.</param>
    /// <param name="logits">The layer that holds the logits (the Final part) when not the model's own; it must be measured.</param>
    /// <param name="device">Where the model runs; a device that is not usable here fails at once, before the model is read.</param>
    public static IFeatureModel Load(string path, ModelCard? card = null, IReadOnlyList<string>? layers = null,
        IReadOnlyList<long>? probeShape = null, OnnxLimits? onnxLimits = null, string? logits = null,
        ComputeDevice device = ComputeDevice.Cpu)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new EquivarianceLabException("No model given.");
        if (path.StartsWith(BuiltinPrefix, StringComparison.Ordinal)) return LoadBuiltin(path[BuiltinPrefix.Length..], card, layers, logits, device);
        if (path.StartsWith(ArchitecturePrefix, StringComparison.Ordinal)) return LoadFresh(path[ArchitecturePrefix.Length..], card, layers, logits, device);

        var resolved = Resolve(path, ref card);
        if (card?.Format == BuiltinFormat) return LoadBuiltin(card.Architecture ?? card.Id, card, layers, logits, device);
        if (!File.Exists(resolved)) throw new EquivarianceLabException($"Model file not found: {resolved}");

        var extension = Path.GetExtension(resolved).ToLowerInvariant();
        if (extension == ".onnx")
            return OnnxFeatureModel.Load(resolved, layers,
                new OnnxLoadOptions { ProbeShape = probeShape, Name = card?.Id, Limits = onnxLimits ?? OnnxLimits.Default, Logits = logits, Device = device });

        card ??= ModelCard.FindFor(resolved)
                 ?? throw new EquivarianceLabException(
                     $"{Path.GetFileName(resolved)} is a weight file; it needs a model card naming its architecture " +
                     $"({Path.GetFileName(resolved)}.card.json beside it). Known architectures: {string.Join(", ", ArchitectureRegistry.Names)}.");
        ComputeDevices.EnsureTorch(device);
        var module = CheckpointIO.Load(resolved, card);
        try
        {
            var inputShape = card.InputShape.Length == 3
                ? card.InputShape.Select(d => (long)d).ToArray()
                : ((HookedModule)module).InputShape.ToArray();
            return new TorchFeatureModel(card.Id, module, inputShape, layers, logits, device);
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }

    /// <summary>Fails with a clear message when a file-based model does not exist.</summary>
    public static void CheckExists(string path, ModelCard? card)
    {
        if (path.StartsWith(BuiltinPrefix, StringComparison.Ordinal) || path.StartsWith(ArchitecturePrefix, StringComparison.Ordinal)) return;
        var resolved = Resolve(path, ref card);
        if (card?.Format != BuiltinFormat && !File.Exists(resolved)) throw new EquivarianceLabException($"Model file not found: {resolved}");
    }

    /// <summary>The model file behind a path, folder or zoo id; fills <paramref name="card"/> from a folder's card.json.</summary>
    public static string Resolve(string path, ref ModelCard? card)
    {
        var folder = Directory.Exists(path) ? path
            : !File.Exists(path) && ZooFolder(path) is { } zoo ? zoo
            : null;
        if (folder is null) return path;
        var cardPath = Path.Combine(folder, "card.json");
        if (!File.Exists(cardPath)) throw new EquivarianceLabException($"{folder} is a folder without a card.json.");
        card ??= ModelCard.Load(cardPath);
        return Path.Combine(folder, card.File);
    }

    /// <summary>The zoo folder <c>models/&lt;id&gt;</c> for an id, if it exists.</summary>
    public static string? ZooFolder(string id)
    {
        if (id.IndexOfAny(['/', '\\']) >= 0 || id.Contains("..", StringComparison.Ordinal)) return null;
        var root = RepositoryPaths.ModelsFolder;
        if (root is null) return null;
        var folder = Path.Combine(root, id);
        return File.Exists(Path.Combine(folder, "card.json")) ? folder : null;
    }

    /// <summary><c>arch:resnet18</c> or <c>arch:resnet18:inChannels=1,classes=10</c>.</summary>
    private static IFeatureModel LoadFresh(string spec, ModelCard? card, IReadOnlyList<string>? layers, string? logits, ComputeDevice device)
    {
        ComputeDevices.EnsureTorch(device);
        var colon = spec.IndexOf(':', StringComparison.Ordinal);
        var architecture = colon < 0 ? spec : spec[..colon];
        var options = card?.ArchitectureOptions ?? new Dictionary<string, System.Text.Json.JsonElement>();
        if (colon >= 0)
        {
            options = new Dictionary<string, System.Text.Json.JsonElement>(options);
            foreach (var pair in spec[(colon + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var kv = pair.Split('=', 2);
                if (kv.Length != 2 || !int.TryParse(kv[1], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value))
                    throw new EquivarianceLabException($"Architecture option '{pair}' is not NAME=INTEGER.");
                options[kv[0]] = System.Text.Json.JsonSerializer.SerializeToElement(value);
            }
        }
        TorchSharp.torch.manual_seed(card?.Seed ?? 0);
        var module = ArchitectureRegistry.CreateHooked(architecture, options, out _);
        module.eval();
        var inputShape = card?.InputShape is { Length: 3 } s ? s.Select(d => (long)d).ToArray() : module.InputShape.ToArray();
        return Owning(module, () => new TorchFeatureModel(card?.Id ?? architecture, module, inputShape, layers, logits, device));
    }

    private static IFeatureModel LoadBuiltin(string name, ModelCard? card, IReadOnlyList<string>? layers, string? logits, ComputeDevice device)
    {
        ComputeDevices.EnsureTorch(device);
        long inChannels = card?.InputShape is { Length: 3 } shape ? shape[0] : 1;
        var kind = name switch
        {
            "control-rotation-invariant" => ControlKind.Invariant,
            "control-rotation-equivariant" => ControlKind.Equivariant,
            _ => throw new EquivarianceLabException(
                $"Unknown built-in model '{name}'. Built-in models: control-rotation-invariant, control-rotation-equivariant."),
        };
        var module = ModuleConstruction.KeepingOnlyItsTensors(() => new RotationControl(kind, inChannels, seed: card?.Seed ?? 0));
        var inputShape = card?.InputShape is { Length: 3 } s ? s.Select(d => (long)d).ToArray() : [inChannels, -1, -1];
        return Owning(module, () => new TorchFeatureModel(card?.Id ?? name, module, inputShape, layers, logits, device));
    }

    /// <summary>The feature model made of <paramref name="module"/>, which is disposed when that fails (a wrong layer name).</summary>
    private static IFeatureModel Owning(IDisposable module, Func<IFeatureModel> create)
    {
        try
        {
            return create();
        }
        catch
        {
            module.Dispose();
            throw;
        }
    }
}

/// <summary>Where the repository's (or the published app's) top-level folders are.</summary>
public static class RepositoryPaths
{
    /// <summary>The top-level folder: the nearest ancestor of the app's base directory (or the working directory) holding EquivarianceLab.sln or models/.</summary>
    public static string? Root { get; } = Find(AppContext.BaseDirectory) ?? Find(Directory.GetCurrentDirectory());

    public static string? ModelsFolder => Root is null ? null : Path.Combine(Root, "models");

    private static string? Find(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "EquivarianceLab.sln")) ||
                (Directory.Exists(Path.Combine(dir.FullName, "models")) && File.Exists(Path.Combine(dir.FullName, "appsettings.json"))))
                return dir.FullName;
        return null;
    }
}
