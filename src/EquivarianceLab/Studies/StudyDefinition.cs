using System.Globalization;
using EquivarianceLab.Measure;

namespace EquivarianceLab.Studies;

/// <summary>One transform family a study measures, with its largest shift for translation.</summary>
public sealed record StudyMeasurement(TransformFamily Transform, int MaxShift = 16)
{
    public string TransformName => MeasureNames.Name(Transform);

    /// <summary><c>rotation</c>, <c>translation (shifts 1–14)</c>.</summary>
    public string Describe() => Transform == TransformFamily.Translation
        ? string.Create(CultureInfo.InvariantCulture, $"{TransformName} (diagonal shifts 1–{MaxShift})")
        : Transform == TransformFamily.Rotation ? $"{TransformName} (90°, 180°, 270°)" : TransformName;
}

/// <summary>
/// One row group of a study: the zoo models whose cards satisfy <see cref="Matches"/>. A slot nothing matches is
/// reported missing under <see cref="ExpectedId"/> (the id <c>docs/training.md</c>'s commands give it), unless it has a
/// <see cref="Builtin"/> model to fall back on or is <see cref="Optional"/>.
/// </summary>
public sealed record StudySlot
{
    /// <summary>The row label: <c>FMNIST-6</c>, <c>crop</c>, <c>k = 2</c>.</summary>
    public required string Label { get; init; }
    /// <summary>What the slot wants, in words (for the missing-model message).</summary>
    public required string Wanted { get; init; }
    /// <summary>The zoo id this slot's model is expected to have; only used to say what is missing.</summary>
    public required string ExpectedId { get; init; }
    /// <summary>The command that makes the model, for the missing-model message.</summary>
    public string? Command { get; init; }
    /// <summary>Selects zoo entries by their card metadata.</summary>
    public required Func<ZooEntry, bool> Matches { get; init; }
    /// <summary>A built-in model (without <c>builtin:</c>) used when no zoo card matches.</summary>
    public string? Builtin { get; init; }
    /// <summary>An open slot: takes whatever matches and is never missing.</summary>
    public bool Optional { get; init; }
}

/// <summary>A study of the paper (§4): which models, which transform families, and whether to correlate with accuracy.</summary>
public sealed record StudyDefinition
{
    public required string Name { get; init; }
    /// <summary>The paper's section and figure: <c>§4.3, Figure 5</c>.</summary>
    public required string Section { get; init; }
    public required string Title { get; init; }
    public required IReadOnlyList<StudyMeasurement> Measurements { get; init; }
    public required IReadOnlyList<StudySlot> Slots { get; init; }
    /// <summary>§4.2: Spearman's ρ between each part's score and the models' card accuracy.</summary>
    public bool CorrelateAccuracy { get; init; }
}

/// <summary>A study's models as found in the zoo: present (in slot order) and missing.</summary>
public sealed record ResolvedStudy(StudyDefinition Definition, Zoo Zoo, IReadOnlyList<StudyMember> Members, IReadOnlyList<StudySlot> Missing)
{
    public bool IsComplete => Missing.Count == 0;

    /// <summary>One line per missing slot: the expected id, what it is, and the command that makes it.</summary>
    public IEnumerable<string> DescribeMissing() => Missing.Select(s =>
        $"{s.ExpectedId} ({s.Wanted}){(s.Command is null ? "" : $": {s.Command}")}");
}

/// <summary>
/// A model of a study, the slot that selected it, and the setting it is a seed replica of: the id of the lowest-seed
/// model of the slot with its <see cref="ZooEntry.ReplicaKey"/> (its own id when it has no replica).
/// </summary>
public sealed record StudyMember(ZooEntry Entry, StudySlot Slot)
{
    public string Setting { get; init; } = Entry.Id;
}

/// <summary>The studies of the paper's §4, selected from the zoo by card metadata (docs/studies.md).</summary>
public static class StudyCatalog
{
    /// <summary>
    /// Largest diagonal shift for the CIFAR-scale studies (§4.4, §4.5): the paper shifts its 32×32 CIFAR-10 images by 1–16
    /// pixels, half the image side, which is the largest distinct circular shift; on 28×28 inputs that is 14.
    /// </summary>
    public const int CifarScaleMaxShift = 14;

    /// <summary>
    /// Largest diagonal shift for the ImageNet-scale studies (§4.2, §4.6): the paper shifts 224-pixel ImageNet inputs by
    /// 1–32 pixels, a seventh of the side; on 28×28 inputs that is 4.
    /// </summary>
    public const int ImageNetScaleMaxShift = 4;

    private static readonly string[] CifarResNets = ["resnet", "resnet20", "resnet44"];
    private static readonly string[] WideResNets = ["wrn", "wrn16", "wrn40"];

    public static IReadOnlyList<StudyDefinition> All { get; } = Build();

    public static IReadOnlyList<string> Names => All.Select(s => s.Name).ToList();

    public static StudyDefinition Get(string name) =>
        All.FirstOrDefault(s => string.Equals(s.Name, name.Trim(), StringComparison.OrdinalIgnoreCase))
        ?? throw new EquivarianceLabException($"Unknown study '{name}'. Studies: {string.Join(", ", Names)}.");

    /// <summary>
    /// Finds a study's models in the zoo. A model is taken by the first slot that matches it; slots are filled in order,
    /// and within a slot the seed replicas of a setting follow one another, lowest seed first.
    /// </summary>
    public static ResolvedStudy Resolve(StudyDefinition study, Zoo zoo)
    {
        var members = new List<StudyMember>();
        var missing = new List<StudySlot>();
        var taken = new HashSet<string>(StringComparer.Ordinal);
        foreach (var slot in study.Slots)
        {
            var found = zoo.Entries.Where(e => !taken.Contains(e.Id) && slot.Matches(e)).ToList();
            if (found.Count == 0 && slot.Builtin is { } builtin && taken.Add(builtin))
                found.Add(Zoo.Builtin(builtin));
            else
                foreach (var e in found) taken.Add(e.Id);
            if (found.Count == 0 && !slot.Optional) missing.Add(slot);
            members.AddRange(Replicas(found, slot));
        }
        return new ResolvedStudy(study, zoo, members, missing);
    }

    /// <summary>
    /// A slot's models grouped into settings (in the order their first model was found), each named after its
    /// lowest-seed model. Grouping within the slot only: models of two slots are never replicas of each other.
    /// </summary>
    private static IEnumerable<StudyMember> Replicas(IEnumerable<ZooEntry> found, StudySlot slot) =>
        found.GroupBy(e => e.ReplicaKey, StringComparer.Ordinal).SelectMany(setting =>
        {
            var bySeed = setting.OrderBy(e => e.Seed ?? 0).ThenBy(e => e.Id, StringComparer.Ordinal).ToList();
            return bySeed.Select(e => new StudyMember(e, slot) { Setting = bySeed[0].Id });
        });

    private static List<StudyDefinition> Build()
    {
        var controls = new[]
        {
            Control("control-rotation-invariant", "invariant control", "the §4.1 rotation-invariant control (isotropic Gaussian filters)"),
            Control("control-rotation-equivariant", "equivariant control", "the §4.1 rotation-equivariant control (rotated filter copies)"),
        };
        var taskSymmetry = new[]
        {
            Cnn7("fmnist6", "FMNIST-6", "cnn7-fmnist6"),
            Cnn7("fmnist6-rot-inv", "FMNIST-6-Rot-Inv", "cnn7-fmnist6-rotinv"),
            Cnn7("fmnist6-rot-eq", "FMNIST-6-Rot-Eq", "cnn7-fmnist6-roteq"),
        };
        var augmentation = new[] { "none", "crop", "flip", "cutmix", "randaugment" }.Select(ResNet).ToArray();
        var capacity = new[] { 1, 2, 4, 8 }.Select(Wrn).ToArray();
        var transformers = new[]
        {
            Transformer("ViT", "vit-small", "ViT"),
            Transformer("MLP-Mixer", "mixer-small", "MLP-Mixer"),
        };
        var cnns = new StudySlot
        {
            Label = "CNN",
            Wanted = "every CNN trained on the 10-class Fashion-MNIST task without augmentation",
            ExpectedId = "resnet20-fmnist",
            Command = "eqlab train --arch resnet20 --data fmnist --out models/resnet20-fmnist",
            Matches = e => e.Family == "CNN" && e.Task == "fmnist" && e.Augmentation == "none",
        };
        var otherFashionMnist = new StudySlot
        {
            Label = "other",
            Wanted = "any other Fashion-MNIST model with an accuracy",
            ExpectedId = "-",
            Matches = e => true,
            Optional = true,
        };

        return
        [
            new()
            {
                Name = "controls", Section = "§4.1, Figure 3", Title = "Hand-built rotation controls",
                Measurements = [new(TransformFamily.Rotation)],
                Slots = controls,
            },
            new()
            {
                Name = "task-symmetry", Section = "§4.3, Figure 5", Title = "Rotation symmetry in the task (7-layer CNN on FMNIST-6, -Rot-Inv, -Rot-Eq)",
                Measurements = [new(TransformFamily.Rotation)],
                Slots = taskSymmetry,
            },
            new()
            {
                Name = "augmentation", Section = "§4.4, Figure 6a", Title = "Data augmentation (CIFAR-style ResNet on Fashion-MNIST)",
                Measurements = [new(TransformFamily.Translation, CifarScaleMaxShift)],
                Slots = augmentation,
            },
            new()
            {
                Name = "capacity", Section = "§4.5, Figure 6b", Title = "Model capacity (Wide ResNet, width k = 1, 2, 4, 8)",
                Measurements = [new(TransformFamily.Translation, CifarScaleMaxShift)],
                Slots = capacity,
            },
            new()
            {
                Name = "architecture", Section = "§4.6, Figure 7", Title = "Architectures (CNN vs ViT vs MLP-Mixer on Fashion-MNIST)",
                Measurements = [new(TransformFamily.Translation, ImageNetScaleMaxShift), new(TransformFamily.Rotation)],
                Slots = [cnns, .. transformers],
            },
            new()
            {
                Name = "accuracy", Section = "§4.2, Figure 4", Title = "Learned equivariance against accuracy (Spearman's ρ across the Fashion-MNIST zoo)",
                Measurements = [new(TransformFamily.Translation, ImageNetScaleMaxShift), new(TransformFamily.Rotation)],
                Slots = [.. new[] { taskSymmetry, augmentation, capacity, transformers, [otherFashionMnist] }.SelectMany(s => s).Select(WithAccuracy)],
                CorrelateAccuracy = true,
            },
        ];
    }

    /// <summary>The accuracy study's version of a slot: only Fashion-MNIST models with an accuracy.</summary>
    private static StudySlot WithAccuracy(StudySlot slot) => slot with
    {
        Matches = e => e.IsFashionMnist && e.Accuracy is not null && slot.Matches(e),
        Wanted = slot.Optional ? slot.Wanted : slot.Wanted + ", with an accuracy on its card",
    };

    private static StudySlot Control(string name, string label, string wanted) => new()
    {
        Label = label,
        Wanted = wanted,
        ExpectedId = name,
        Matches = e => e.Card?.Format == FeatureModels.ModelLoader.BuiltinFormat && e.Architecture == name,
        Builtin = name,
    };

    private static StudySlot Cnn7(string task, string label, string id) => new()
    {
        Label = label,
        Wanted = $"cnn7 (width 1) trained on {task} without augmentation",
        ExpectedId = id,
        Command = $"eqlab train --arch cnn7 --data {task} --out models/{id}",
        Matches = e => e.Architecture == "cnn7" && e.Task == task && e.Width == 1 && e.Augmentation == "none",
    };

    private static StudySlot ResNet(string augmentation) => new()
    {
        Label = augmentation,
        Wanted = $"a CIFAR-style ResNet (width 1) trained on fmnist with augmentation {augmentation}",
        ExpectedId = augmentation == "none" ? "resnet20-fmnist" : $"resnet20-fmnist-{augmentation}",
        Command = $"eqlab train --arch resnet20 --data fmnist --augment {augmentation} --out models/resnet20-fmnist{(augmentation == "none" ? "" : "-" + augmentation)}",
        Matches = e => CifarResNets.Contains(e.Architecture) && e.Task == "fmnist" && e.Width == 1 && e.Augmentation == augmentation,
    };

    private static StudySlot Wrn(int k) => new()
    {
        Label = $"k = {k}",
        Wanted = $"a Wide ResNet of width k = {k} trained on fmnist",
        ExpectedId = $"wrn16-{k}-fmnist",
        Command = $"eqlab train --arch wrn16 --width {k} --option base=4 --data fmnist --out models/wrn16-{k}-fmnist",
        Matches = e => WideResNets.Contains(e.Architecture) && e.Task == "fmnist" && e.Width == k,
    };

    private static StudySlot Transformer(string family, string architecture, string label) => new()
    {
        Label = label,
        Wanted = $"a {family} trained on fmnist",
        ExpectedId = $"{architecture}-fmnist",
        Command = $"eqlab train --arch {architecture} --data fmnist --out models/{architecture}-fmnist",
        Matches = e => e.Family == family && e.Task == "fmnist",
    };
}
