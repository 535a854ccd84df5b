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

    public static MeasureOptions ToOptions(string transform, string similarity, int? images, int maxShift) => new()
    {
        Transform = MeasureNames.ParseTransform(transform),
        Similarity = MeasureNames.ParseSimilarity(similarity),
        Images = images,
        MaxShift = maxShift,
    };
}
