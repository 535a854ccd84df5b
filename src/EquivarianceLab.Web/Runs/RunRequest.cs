using EquivarianceLab.Measure;
using EquivarianceLab.Web.Api;

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
        return (MeasureNames.Name(t), MeasureNames.Name(s));
    }

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

    public static MeasureOptions ToOptions(string transform, string similarity, int? images, int maxShift) => new()
    {
        Transform = MeasureNames.ParseTransform(transform),
        Similarity = MeasureNames.ParseSimilarity(similarity),
        Images = images,
        MaxShift = maxShift,
    };
}
