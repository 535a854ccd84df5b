using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Uploads;

namespace EquivarianceLab.Web.Runs;

/// <summary>What <c>POST /api/runs</c> and the New measurement page ask for (one model).</summary>
public sealed record RunRequest
{
    public string? ModelId { get; init; }
    public string? ProbeSetId { get; init; }
    public string? Transform { get; init; }
    public string? Similarity { get; init; }
    public int? Images { get; init; }
    public int? MaxShift { get; init; }
    /// <summary>rotation-continuous: angles in degrees (counter-clockwise); null: 15, 30, 45, 90.</summary>
    public IReadOnlyList<double>? Angles { get; init; }
    /// <summary>translation-continuous: shifts in input pixels along both axes; null: 0.5, 1.5.</summary>
    public IReadOnlyList<double>? Shifts { get; init; }
    /// <summary>The layers to measure (names from <c>GET /api/models/{id}/layers</c>); null or empty: the default selection.</summary>
    public IReadOnlyList<string>? Layers { get; init; }
    /// <summary>The layer holding the logits (the Final part) when not the model's own; with <see cref="Layers"/>, one of them.</summary>
    public string? Logits { get; init; }
    /// <summary>cpu (default) or gpu: the queue the run waits in; a gpu run waits for a worker with a usable GPU.</summary>
    public string? Device { get; init; }

    public const int MaxImages = 100_000;
    public const int MaxShiftLimit = 512;

    /// <summary>Normalised transform/similarity names; a wrong field is a <see cref="RequestException"/> naming it.</summary>
    public (string Transform, string Similarity) Validate()
    {
        if (!MeasureNames.TryParseTransform(Transform ?? MeasureNames.DefaultTransform, out var t))
            throw RequestException.Invalid("transform", MeasureNames.UnknownTransform(Transform));
        if (!MeasureNames.TryParseSimilarity(Similarity ?? MeasureNames.DefaultSimilarity, out var s))
            throw RequestException.Invalid("similarity", MeasureNames.UnknownSimilarity(Similarity));
        if (Images is < 1 or > MaxImages) throw RequestException.Invalid("images", $"images must be between 1 and {MaxImages} (got {Images}).");
        if (MaxShift is < 1 or > MaxShiftLimit) throw RequestException.Invalid("maxShift", $"maxShift must be between 1 and {MaxShiftLimit} (got {MaxShift}).");
        if (Angles?.Count > MaxValues || Shifts?.Count > MaxValues)
            throw RequestException.Invalid(Angles?.Count > MaxValues ? "angles" : "shifts", $"At most {MaxValues} angles or shifts per run.");
        // The library's own checks (family, finite, non-zero, once, within a turn), in its words with the API's names.
        try { ContinuousFamilies.Check(new MeasureOptions { Transform = t, Angles = Angles, Shifts = Shifts }); }
        catch (EquivarianceLabException e)
        {
            throw RequestException.Invalid(e.Message.StartsWith("--shifts", StringComparison.Ordinal) ? "shifts" : "angles",
                e.Message.Replace("--angles", "angles", StringComparison.Ordinal).Replace("--shifts", "shifts", StringComparison.Ordinal)
                    .Replace("--transform ", "transform ", StringComparison.Ordinal));
        }
        return (MeasureNames.Name(t), MeasureNames.Name(s));
    }

    /// <summary>Angles or shifts one run may ask for: each is a forward pass per batch.</summary>
    public const int MaxValues = 32;

    /// <summary>
    /// What <see cref="Run.TransformValues"/> stores for a continuous family: the angles or shifts, comma-separated in
    /// invariant culture (null: the family's defaults, and for every other family).
    /// </summary>
    public string? StoredValues(string transform) => transform switch
    {
        "rotation-continuous" when Angles is { Count: > 0 } a => ContinuousFamilies.Format(a),
        "translation-continuous" when Shifts is { Count: > 0 } v => ContinuousFamilies.Format(v),
        _ => null,
    };

    /// <summary>A run's stored angles or shifts back as numbers (null: the defaults).</summary>
    public static double[]? ValuesOf(string? stored) => stored is null
        ? null
        : [.. stored.Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>The default largest diagonal shift (the paper's CIFAR setting), lowered to a quarter of a small input's side.</summary>
    public const int DefaultMaxShift = 16;

    /// <summary>
    /// A translation's largest shift may be at most half the model input's smaller side: beyond that the shifted
    /// image shares less than half of itself with the original. Returns the shift to store; without one asked, 16 or a quarter of the smaller side, whichever is smaller (7 on 28×28).
    /// </summary>
    public static int CheckMaxShift(int? asked, string transform, IReadOnlyList<int> inputShape)
    {
        var allowed = inputShape.Count == 3 ? Math.Min(inputShape[1], inputShape[2]) / 2 : MaxShiftLimit;
        if (asked is null) return Math.Max(1, Math.Min(DefaultMaxShift, allowed / 2));
        if (transform == MeasureNames.Name(TransformFamily.Translation) && asked > allowed)
            throw RequestException.Invalid("maxShift", $"maxShift must be at most {allowed} for this model's {inputShape[1]}×{inputShape[2]} input (half its smaller side); got {asked}.");
        return asked.Value;
    }

    /// <summary>
    /// The asked-for layers checked against the model's listing and put in its forward order (the order they are
    /// measured in, whatever order they were given in), and the logits layer; null layers for the default selection.
    /// Unknown names are one validation problem naming them all.
    /// </summary>
    public LayerChoice CheckLayers(IReadOnlyList<LayerInfo> listing, string modelName)
    {
        // A run stores its layers one per line, so a (hostile) name holding a line break cannot be chosen.
        var known = listing.Select(l => l.Name).Where(n => n.IndexOfAny(['\n', '\r']) < 0).ToHashSet(StringComparer.Ordinal);
        var asked = Layers is { Count: > 0 } ? Layers : null;
        if (asked is not null)
        {
            var unknown = asked.Where(n => !known.Contains(n)).Distinct(StringComparer.Ordinal).ToList();
            if (unknown.Count > 0)
                throw RequestException.Invalid("layers", $"Model '{modelName}' has no measurable {(unknown.Count == 1 ? "layer" : "layers")} {Names(unknown)}; GET /api/models/{{id}}/layers lists them.");
            var twice = asked.GroupBy(n => n, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            if (twice.Count > 0) throw RequestException.Invalid("layers", $"{Names(twice)} {(twice.Count == 1 ? "is" : "are")} listed twice.");
        }
        if (Logits is { } logits)
        {
            if (!known.Contains(logits))
                throw RequestException.Invalid("logits", $"Model '{modelName}' has no measurable layer {Names([logits])}; GET /api/models/{{id}}/layers lists them.");
            if (asked is not null && !asked.Contains(logits))
                throw RequestException.Invalid("logits", $"The logits layer {Names([logits])} is not one of the layers asked for; add it to layers.");
        }
        var ordered = asked is null ? null : listing.Select(l => l.Name).Where(asked.Contains).ToList();
        return new LayerChoice(ordered, Logits);
    }

    /// <summary>The layers a run records (one per line; layer names from a listing hold no line breaks), back as a choice.</summary>
    public static LayerChoice LayersOf(Run run) =>
        new(run.RequestedLayers?.Split('\n'), run.LogitsLayer);

    /// <summary>What <see cref="Run.RequestedLayers"/> stores.</summary>
    public static string? StoredLayers(LayerChoice choice) => choice.Layers is null ? null : string.Join('\n', choice.Layers);

    private static string Names(IEnumerable<string> names) => string.Join(", ", names.Take(10).Select(n => $"'{UploadNames.ShownId(n)}'"));

    public static MeasureOptions ToOptions(string transform, string similarity, int? images, int maxShift, string? transformValues = null)
    {
        var family = MeasureNames.ParseTransform(transform);
        var values = ValuesOf(transformValues);
        return new()
        {
            Transform = family,
            Similarity = MeasureNames.ParseSimilarity(similarity),
            Images = images,
            MaxShift = maxShift,
            Angles = family == TransformFamily.RotationContinuous ? values : null,
            Shifts = family == TransformFamily.TranslationContinuous ? values : null,
        };
    }

    /// <summary>A stored run's settings as the measure takes them.</summary>
    public static MeasureOptions ToOptions(Run run) => ToOptions(run.Transform, run.Similarity, run.Images, run.MaxShift, run.TransformValues);
}
