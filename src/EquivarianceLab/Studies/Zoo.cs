using System.Text.Json;
using System.Text.RegularExpressions;
using EquivarianceLab.Cards;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Training;

namespace EquivarianceLab.Studies;

/// <summary>
/// One model of the zoo (<c>models/&lt;id&gt;/card.json</c>), with the facts the studies select on, all read from its
/// card: the architecture, the training task (from <c>accuracyDataset</c>), the width factor (from
/// <c>architectureOptions</c>), the training augmentation (from the <c>eqlab train</c> command in
/// <c>provenance</c>, else the card's notes), and the seed and the setting it is a replica of.
/// </summary>
public sealed record ZooEntry
{
    public required string Id { get; init; }
    /// <summary>The folder holding card.json; null for a built-in model that is not in the zoo.</summary>
    public string? Folder { get; init; }
    /// <summary>The card; null for a built-in model that is not in the zoo.</summary>
    public ModelCard? Card { get; init; }
    /// <summary>What to pass to the model loader: the folder, or <c>builtin:NAME</c>.</summary>
    public required string Source { get; init; }

    /// <summary>The card's architecture in lower case (for a built-in card, its architecture or id).</summary>
    public string? Architecture => Card is null
        ? (Source.StartsWith(ModelLoader.BuiltinPrefix, StringComparison.Ordinal) ? Source[ModelLoader.BuiltinPrefix.Length..] : null)
        : (Card.Format == ModelLoader.BuiltinFormat ? Card.Architecture ?? Card.Id : Card.Architecture)?.ToLowerInvariant();

    public bool IsBuiltin => Card is null || Card.Format == ModelLoader.BuiltinFormat;

    /// <summary>CNN, ViT, MLP-Mixer, … (the card's family).</summary>
    public string Family => Card?.Family ?? "Control";

    /// <summary>The task the accuracy was measured on, without the split: <c>fmnist6-rot-inv</c> of <c>fmnist6-rot-inv/test</c>.</summary>
    public string? Task => Card?.AccuracyDataset is { Length: > 0 } d ? d.Split('/', 2)[0].Trim().ToLowerInvariant() : null;

    public double? Accuracy => Card?.Accuracy;

    /// <summary>The training seed the card records (<c>eqlab train --seed</c>); null when it records none.</summary>
    public int? Seed => Card?.Seed;

    /// <summary>
    /// What this model shares with its seed replicas and with no other model: the <c>eqlab train</c> command without its
    /// seed and output (<see cref="Studies.ReplicaKey"/>), or <c>model:ID</c> for a model not trained by <c>eqlab train</c>.
    /// </summary>
    public string ReplicaKey => Studies.ReplicaKey.Of(this);

    /// <summary>The width factor from the card's architecture options (1 when the architecture has none).</summary>
    public int Width => IntOption("width") ?? 1;

    /// <summary>
    /// The training augmentation as <c>eqlab train</c> describes it (<c>none</c>, <c>crop</c>, <c>crop,flip</c>, …), or null when the card
    /// does not say (a model not trained by <c>eqlab train</c>).
    /// </summary>
    public string? Augmentation => Card is null ? null : AugmentationOf(Card);

    /// <summary>Fashion-MNIST models: trained and scored on one of the Fashion-MNIST tasks.</summary>
    public bool IsFashionMnist => Task is { } t && TrainingData.VariantNames.Contains(t, StringComparer.Ordinal);

    public int? IntOption(string name)
    {
        if (Card?.ArchitectureOptions is not { } options) return null;
        foreach (var (key, value) in options)
            if (Normalize(key) == Normalize(name) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var v)) return v;
        return null;
    }

    private static string Normalize(string s) => s.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();

    private static readonly Regex AugmentOption = new(@"(?:^|\s)--augment(?:=|\s+)('[^']*'|""[^""]*""|\S+)", RegexOptions.CultureInvariant);
    private static readonly Regex AugmentNote = new(@"\baugmentation ([A-Za-z,_-]+)[;.]", RegexOptions.CultureInvariant);

    /// <summary>The augmentation of a card: <c>--augment</c> in an <c>eqlab train</c> provenance (absent = none), else "augmentation X;" in its notes.</summary>
    public static string? AugmentationOf(ModelCard card)
    {
        if (card.Provenance is { } provenance && provenance.TrimStart().StartsWith("eqlab train", StringComparison.Ordinal))
        {
            var match = AugmentOption.Match(provenance);
            return match.Success ? Describe(match.Groups[1].Value.Trim('\'', '"')) : "none";
        }
        if (card.Notes is { } notes && AugmentNote.Match(notes) is { Success: true } note) return Describe(note.Groups[1].Value);
        return null;
    }

    private static string? Describe(string text)
    {
        try
        {
            // In the enum's order, so that "flip,crop" and "crop,flip" are the same training.
            return Training.Augmentation.Describe([.. Training.Augmentation.Parse(text).Order()]);
        }
        catch (EquivarianceLabException)
        {
            return null;
        }
    }

    public override string ToString() => Id;
}

/// <summary>The model zoo: every <c>card.json</c> one level under a models folder.</summary>
public sealed class Zoo
{
    public Zoo(string? folder, IReadOnlyList<ZooEntry> entries, IReadOnlyList<string> problems)
    {
        Folder = folder;
        Entries = entries;
        Problems = problems;
    }

    /// <summary>The models folder scanned (null when none was found).</summary>
    public string? Folder { get; }
    public IReadOnlyList<ZooEntry> Entries { get; }
    /// <summary>Cards that could not be read or whose model file is missing, one line each; they take part in no study.</summary>
    public IReadOnlyList<string> Problems { get; }

    /// <summary>The repository's <c>models/</c> folder.</summary>
    public static Zoo Load() => Scan(RepositoryPaths.ModelsFolder);

    /// <summary>Reads <c>FOLDER/*/card.json</c> in id order. A card that fails to parse, or whose file is missing, is a problem, not an error.</summary>
    public static Zoo Scan(string? folder)
    {
        var entries = new List<ZooEntry>();
        var problems = new List<string>();
        if (folder is null || !Directory.Exists(folder)) return new Zoo(folder, entries, problems);
        foreach (var dir in Directory.GetDirectories(folder).OrderBy(d => Path.GetFileName(d), StringComparer.Ordinal))
        {
            var cardPath = Path.Combine(dir, "card.json");
            if (!File.Exists(cardPath)) continue;
            ModelCard card;
            try
            {
                card = ModelCard.Load(cardPath);
            }
            catch (Exception e) when (e is EquivarianceLabException or IOException or UnauthorizedAccessException)
            {
                problems.Add($"{Path.GetFileName(dir)}: {e.Message}");
                continue;
            }
            if (card.Format != ModelLoader.BuiltinFormat && !File.Exists(Path.Combine(dir, card.File)))
            {
                problems.Add($"{card.Id}: its model file {card.File} is missing from {dir}.");
                continue;
            }
            entries.Add(new ZooEntry { Id = card.Id, Folder = dir, Card = card, Source = dir });
        }
        return new Zoo(folder, entries, problems);
    }

    /// <summary>
    /// Whether <paramref name="entry"/> is a seed replica of a seed-0 model of this zoo: a seed other than 0 and the same
    /// <see cref="ZooEntry.ReplicaKey"/>. Such a model runs the same architecture code on the same inputs as that one.
    /// </summary>
    public bool IsSeedReplica(ZooEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Seed is null or 0) return false;
        _seedZeroKeys ??= Entries.Where(e => e.Seed == 0).Select(e => e.ReplicaKey).ToHashSet(StringComparer.Ordinal);
        return _seedZeroKeys.Contains(entry.ReplicaKey);
    }

    private HashSet<string>? _seedZeroKeys;

    /// <summary>A built-in model that has no zoo card (<c>builtin:NAME</c>).</summary>
    public static ZooEntry Builtin(string name) =>
        new() { Id = name, Source = ModelLoader.BuiltinPrefix + name };

    /// <summary>The probe set a model is measured on: its card's <c>defaultProbe</c> (relative to the models folder), else <paramref name="fallback"/>.</summary>
    public string ProbeFor(ZooEntry entry, string fallback)
    {
        if (entry.Card?.DefaultProbe is not { Length: > 0 } probe) return fallback;
        if (Path.IsPathRooted(probe)) return probe;
        var root = entry.Folder is { } f ? Path.GetDirectoryName(Path.GetFullPath(f)) : Folder;
        return root is null ? probe : Path.GetFullPath(Path.Combine(root, probe));
    }

    /// <summary>The shipped Fashion-MNIST test images under a models folder.</summary>
    public static string FashionMnistTestImages(string? modelsFolder) =>
        Path.Combine(modelsFolder ?? "models", "data", "fashion-mnist", "t10k-images-idx3-ubyte.gz");
}
