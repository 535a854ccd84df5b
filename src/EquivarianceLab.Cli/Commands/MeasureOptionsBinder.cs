using System.CommandLine;
using EquivarianceLab.Compute;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;

namespace EquivarianceLab.Cli.Commands;

/// <summary>The options <c>measure</c> and <c>bench</c> share, and how they open the model and the probe set.</summary>
public sealed class MeasureOptionsBinder
{
    public Option<string> Model { get; } = new("--model")
    {
        Description = "Model: an .onnx graph, a weight file (.dat, .pt, .pth, .safetensors) with a card beside it, a folder with card.json, " +
                      "a zoo id, builtin:control-rotation-invariant|builtin:control-rotation-equivariant, or arch:NAME for fresh weights.",
        Required = true,
    };
    public Option<string?> Probe { get; } = new("--probe") { Description = "Probe set: .npy float32 [N,C,H,W], a folder or .zip of PNG/JPEG, or Fashion-MNIST IDX (.gz)." };
    public Option<string> Transform { get; } = new("--transform")
    {
        Description = "Transform family: rotation, translation or flip; rotation-continuous or translation-continuous (bilinear, on a valid region; docs/measure.md).",
        DefaultValueFactory = _ => "rotation",
    };
    public Option<string> Similarity { get; } = new("--similarity") { Description = "pearson (default) or cosine.", DefaultValueFactory = _ => "pearson" };
    public Option<int> MaxShift { get; } = new("--max-shift") { Description = "Largest diagonal shift K for translation (shifts 1..K).", DefaultValueFactory = _ => 16 };
    public Option<string?> Angles { get; } = new("--angles")
    {
        Description = "Angles in degrees, counter-clockwise, for rotation-continuous: comma-separated (default 15,30,45,90).",
    };
    public Option<string?> Shifts { get; } = new("--shifts")
    {
        Description = "Shifts in input pixels along both axes for translation-continuous: comma-separated (default 0.5,1.5).",
    };
    public Option<string?> Layers { get; } = new("--layers") { Description = "Comma-separated layer (graph tensor / hook point) names, in forward order." };
    public Option<string?> Logits { get; } = new("--logits") { Description = "The layer holding the logits (the Final part), when not the model's output; it must be measured." };
    public Option<int?> Images { get; } = new("--images")
    {
        Description = $"Number of probe images (default: all, up to {MeasureOptions.DefaultMaxImages}).",
        CustomParser = WholeNumber("--images"),
    };
    public Option<int> Batch { get; } = new("--batch") { Description = "Images per forward pass.", DefaultValueFactory = _ => 32 };
    public Option<string> Device { get; } = new("--device")
    {
        Description = "Where the model runs: cpu (default) or cuda (GPU 0; needs the GPU build and CUDA, see docs/gpu.md). No fallback: cuda where it is not usable fails at once.",
        DefaultValueFactory = _ => ComputeDevices.CpuName,
    };
    public Option<int?> Threads { get; } = ThreadsOption();
    public Option<bool> NoMatching { get; } = new("--no-matching")
    {
        Description = "Do not keep which channel each channel becomes (the paper's measure alone; a smaller result.json).",
    };

    /// <summary><c>--threads N</c>: the cores ONNX Runtime, libtorch and the similarity kernel may use (default: every core).</summary>
    public static Option<int?> ThreadsOption() => new("--threads")
    {
        Description = $"Cores the measure may use: ONNX Runtime, libtorch and the similarity kernel (default: all {ComputeThreads.Count}).",
        CustomParser = WholeNumber("--threads"),
    };

    /// <summary>An optional whole number, refused in our wording rather than System.CommandLine's (which names the .NET type).</summary>
    private static Func<System.CommandLine.Parsing.ArgumentResult, int?> WholeNumber(string option) => result =>
    {
        var token = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (int.TryParse(token, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n)) return n;
        result.AddError($"{option} must be a whole number, not '{token}'.");
        return null;
    };

    /// <summary>Caps every compute pool when <c>--threads</c> was given; before any model is opened, so its sessions see the cap.</summary>
    public static void ApplyThreads(ParseResult r, Option<int?> threads)
    {
        if (r.GetValue(threads) is { } n) ComputeThreads.Limit(n);
    }

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Model, Probe, Transform, Similarity, MaxShift, Angles, Shifts, Layers, Logits, Images, Batch, Device, Threads, NoMatching })
            command.Options.Add(option);
    }

    /// <summary>Fails before any work when an output file could not be written (its folder is missing).</summary>
    public static void CheckOutputPath(string? path, string option)
    {
        if (path is null) return;
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is not null && !Directory.Exists(folder))
            throw new EquivarianceLabException($"{option} {path}: the folder {folder} does not exist.");
    }

    /// <summary>The measurement's options, with --angles and --shifts checked before any model is opened.</summary>
    public MeasureOptions Options(ParseResult r)
    {
        var options = new MeasureOptions
        {
            Transform = MeasureNames.ParseTransform(r.GetValue(Transform)!),
            Similarity = MeasureNames.ParseSimilarity(r.GetValue(Similarity)!),
            MaxShift = r.GetValue(MaxShift),
            Angles = Numbers(r.GetValue(Angles), "--angles"),
            Shifts = Numbers(r.GetValue(Shifts), "--shifts"),
            BatchSize = r.GetValue(Batch),
            Images = r.GetValue(Images),
            Device = ComputeDevices.Parse(r.GetValue(Device)),
            Matching = !r.GetValue(NoMatching),
        };
        ContinuousFamilies.Check(options);
        return options;
    }

    /// <summary>Comma-separated numbers in the invariant culture (15,22.5,-30); null when the option was not given.</summary>
    private static double[]? Numbers(string? text, string option)
    {
        if (text is null) return null;
        return text.Split(',', StringSplitOptions.TrimEntries).Select(token =>
            double.TryParse(token, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
                ? value
                : throw new EquivarianceLabException($"{option} takes comma-separated numbers such as 15,22.5,45, not '{text}'.")).ToArray();
    }

    public IReadOnlyList<string>? LayerList(ParseResult r) =>
        r.GetValue(Layers) is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            : null;

    /// <summary>The model alone with its default layers, laid out at its card's input size (for --list-layers).</summary>
    public IFeatureModel OpenModel(ParseResult r)
    {
        var device = ComputeDevices.Parse(r.GetValue(Device));
        ApplyThreads(r, Threads);
        var path = r.GetValue(Model)!;
        var card = MeasurementInputs.CardFor(path);
        return ModelLoader.Load(path, card, probeShape: MeasurementInputs.CardShape(card), logits: r.GetValue(Logits), device: device);
    }

    /// <summary>The model on <c>--device</c> and the probe set, after <c>--threads</c> has capped the compute pools.</summary>
    public (IFeatureModel Model, IProbeSet Probe) Open(ParseResult r)
    {
        var device = ComputeDevices.Parse(r.GetValue(Device));
        var probe = r.GetValue(Probe) ?? throw new EquivarianceLabException("--probe is required: a .npy, an image folder or .zip, or Fashion-MNIST IDX.");
        ApplyThreads(r, Threads);
        return MeasurementInputs.Open(r.GetValue(Model)!, probe, layers: LayerList(r), logits: r.GetValue(Logits), device: device);
    }
}
