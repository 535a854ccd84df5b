using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Architectures;

/// <summary>One architecture the project implements: its name, family (as on model cards) and options with defaults.</summary>
public sealed record ArchitectureInfo(string Name, string Family, string Description, string Options)
{
    /// <summary>Whether the architecture has a <c>width</c> option (a channel multiplier; WRN's k).</summary>
    public bool HasWidth => Options.Split(", ").Any(o => o.StartsWith("width ", StringComparison.Ordinal));
}

/// <summary>
/// Builds the project's architectures by name (a model card's <c>architecture</c> + <c>architectureOptions</c>). Every
/// module returned is a <see cref="HookedModule"/> (so also an <see cref="FeatureModels.IHookedModule"/>): its hook points
/// are its measured layers in forward order, then <c>pool</c> and <c>logits</c>. All take <c>inChannels</c> and
/// <c>classes</c>. Option names match ignoring case, '-' and '_'.
/// </summary>
public static class ArchitectureRegistry
{
    private static readonly ArchitectureInfo[] Infos =
    [
        new("cnn7", "CNN", "The paper's 7-layer CNN: seven 3×3 convolutions (20·width channels), BN, ReLU, max-pool after layer 2, GAP, linear.",
            "inChannels (1), classes (10), width (1)"),
        new("resnet", "CNN", "CIFAR-style ResNet of depth 6n+2 (16/32/64·width channels, option-A shortcuts).",
            "inChannels (3), classes (10), depth (20), width (1)"),
        new("resnet20", "CNN", "CIFAR-style ResNet-20.", "inChannels (3), classes (10), width (1)"),
        new("resnet44", "CNN", "CIFAR-style ResNet-44 (the paper's §4.4 model).", "inChannels (3), classes (10), width (1)"),
        new("wrn", "CNN", "Wide ResNet WRN-depth-width (pre-activation blocks; channels base, base·width, 2·base·width, 4·base·width).",
            "inChannels (3), classes (10), depth (16), width (1), base (16)"),
        new("wrn16", "CNN", "Wide ResNet WRN-16-width.", "inChannels (3), classes (10), width (1), base (16)"),
        new("wrn40", "CNN", "Wide ResNet WRN-40-width (the paper's §4.5 model).", "inChannels (3), classes (10), width (1), base (16)"),
        new("vit-small", "ViT", "A small Vision Transformer: patch embedding, class token, pre-norm encoder blocks.",
            "inChannels (3), classes (10), imageSize (28), patchSize (4), dim (64), depth (6), heads (4), mlpDim (128)"),
        new("mixer-small", "MLP-Mixer", "A small MLP-Mixer: patch embedding, token- and channel-mixing blocks.",
            "inChannels (3), classes (10), imageSize (28), patchSize (4), dim (64), depth (6), tokenDim (64), channelDim (128)"),
        new("resnet18", "CNN", "TorchVision ResNet-18 (torchvision parameter names, for PyTorch checkpoints).",
            "inChannels (3), classes (1000), cifarStem (0)"),
        new("resnet50", "CNN", "TorchVision ResNet-50 (torchvision parameter names, for PyTorch checkpoints).",
            "inChannels (3), classes (1000), cifarStem (0)"),
    ];

    public static IReadOnlyList<string> Names { get; } = [.. Infos.Select(i => i.Name)];

    public static IReadOnlyList<ArchitectureInfo> All => Infos;

    public static ArchitectureInfo Info(string architecture) =>
        Infos.FirstOrDefault(i => string.Equals(i.Name, architecture?.Trim(), StringComparison.OrdinalIgnoreCase))
        ?? throw new EquivarianceLabException($"Unknown architecture '{architecture}'; known architectures: {string.Join(", ", Names)}.");

    /// <summary>Builds the named architecture with fresh weights. The result also implements <see cref="FeatureModels.IHookedModule"/>.</summary>
    public static nn.Module<Tensor, Tensor> Create(string architecture, IReadOnlyDictionary<string, JsonElement>? options) =>
        CreateHooked(architecture, options, out _);

    /// <summary>Builds the named architecture and returns the options it was built with, defaults included (for a model card).</summary>
    public static HookedModule CreateHooked(string architecture, IReadOnlyDictionary<string, JsonElement>? options, out Dictionary<string, JsonElement> resolvedOptions)
    {
        var info = Info(architecture);
        var o = new ArchitectureOptions(info.Name, options);
        var module = ModuleConstruction.KeepingOnlyItsTensors(() => Build(info, o));
        resolvedOptions = o.Resolved();
        return module;
    }

    private static HookedModule Build(ArchitectureInfo info, ArchitectureOptions o)
    {
        HookedModule module;
        switch (info.Name)
        {
            case "cnn7":
            {
                int inChannels = o.Int("inChannels", 1, max: 64), classes = o.Int("classes", 10), width = o.Int("width", 1, max: 64);
                o.RejectUnknown();
                module = new Cnn7(inChannels, classes, width);
                break;
            }
            case "resnet" or "resnet20" or "resnet44":
            {
                int inChannels = o.Int("inChannels", 3, max: 64), classes = o.Int("classes", 10);
                int depth = info.Name switch { "resnet20" => 20, "resnet44" => 44, _ => o.Int("depth", 20, min: 8, max: 1202) };
                int width = o.Int("width", 1, max: 64);
                o.RejectUnknown();
                module = new CifarResNet(depth, inChannels, classes, width);
                break;
            }
            case "wrn" or "wrn16" or "wrn40":
            {
                int inChannels = o.Int("inChannels", 3, max: 64), classes = o.Int("classes", 10);
                int depth = info.Name switch { "wrn16" => 16, "wrn40" => 40, _ => o.Int("depth", 16, min: 10, max: 1000) };
                int width = o.Int("width", 1, max: 64), baseChannels = o.Int("base", 16, max: 256);
                o.RejectUnknown();
                module = new WideResNet(depth, width, inChannels, classes, baseChannels);
                break;
            }
            case "vit-small":
            {
                int inChannels = o.Int("inChannels", 3, max: 64), classes = o.Int("classes", 10);
                int imageSize = o.Int("imageSize", 28, max: 1024), patchSize = o.Int("patchSize", 4, max: 1024);
                int dim = o.Int("dim", 64, max: 4096), depth = o.Int("depth", 6, max: 64), heads = o.Int("heads", 4, max: 64), mlpDim = o.Int("mlpDim", 128, max: 16384);
                o.RejectUnknown();
                module = new VisionTransformer(inChannels, classes, imageSize, patchSize, dim, depth, heads, mlpDim);
                break;
            }
            case "mixer-small":
            {
                int inChannels = o.Int("inChannels", 3, max: 64), classes = o.Int("classes", 10);
                int imageSize = o.Int("imageSize", 28, max: 1024), patchSize = o.Int("patchSize", 4, max: 1024);
                int dim = o.Int("dim", 64, max: 4096), depth = o.Int("depth", 6, max: 64), tokenDim = o.Int("tokenDim", 64, max: 16384), channelDim = o.Int("channelDim", 128, max: 16384);
                o.RejectUnknown();
                module = new MlpMixer(inChannels, classes, imageSize, patchSize, dim, depth, tokenDim, channelDim);
                break;
            }
            case "resnet18" or "resnet50":
            {
                int inChannels = o.Int("inChannels", 3, max: 64), classes = o.Int("classes", 1000), cifarStem = o.Int("cifarStem", 0, min: 0, max: 1);
                o.RejectUnknown();
                module = new TorchVisionResNet(info.Name == "resnet18" ? 18 : 50, inChannels, classes, cifarStem == 1);
                break;
            }
            default:
                throw new InvalidOperationException($"Architecture {info.Name} is listed but not built.");
        }
        return module;
    }
}
