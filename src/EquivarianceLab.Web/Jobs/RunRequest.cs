using EquivarianceLab.Measure;

namespace EquivarianceLab.Web.Jobs;

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

    /// <summary>Normalised transform/similarity names, or a clear error.</summary>
    public (string Transform, string Similarity, string? Error) Normalise()
    {
        var t = (Transform ?? "rotation").Trim().ToLowerInvariant();
        var s = (Similarity ?? "pearson").Trim().ToLowerInvariant();
        if (t is not ("rotation" or "translation" or "flip")) return (t, s, $"Unknown transform '{Transform}'. Use rotation, translation or flip.");
        if (s is not ("pearson" or "cosine")) return (t, s, $"Unknown similarity '{Similarity}'. Use pearson or cosine.");
        if (Images is < 1 or > MaxImages) return (t, s, $"images must be between 1 and {MaxImages} (got {Images}).");
        if (MaxShift is < 1 or > MaxShiftLimit) return (t, s, $"maxShift must be between 1 and {MaxShiftLimit} (got {MaxShift}).");
        return (t, s, null);
    }

    public static MeasureOptions ToOptions(string transform, string similarity, int? images, int maxShift) => new()
    {
        Transform = SpatialTransform.ParseFamily(transform),
        Similarity = similarity == "cosine" ? SimilarityKind.Cosine : SimilarityKind.Pearson,
        Images = images,
        MaxShift = maxShift,
    };
}
