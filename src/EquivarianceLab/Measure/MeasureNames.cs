namespace EquivarianceLab.Measure;

/// <summary>
/// The one vocabulary of a measurement's settings: how transform families and similarities are named, parsed and
/// reported — by <c>eqlab</c>, the HTTP API, the pages and stored results alike.
/// </summary>
public static class MeasureNames
{
    public const string DefaultTransform = "rotation", DefaultSimilarity = "pearson";

    public static string Name(TransformFamily family) => family switch
    {
        TransformFamily.RotationContinuous => "rotation-continuous",
        TransformFamily.TranslationContinuous => "translation-continuous",
        _ => family.ToString().ToLowerInvariant(),
    };
    public static string Name(SimilarityKind kind) => kind.ToString().ToLowerInvariant();

    /// <summary>Case and surrounding spaces are ignored.</summary>
    public static bool TryParseTransform(string? name, out TransformFamily family)
    {
        switch (name?.Trim().ToLowerInvariant())
        {
            case "rotation": family = TransformFamily.Rotation; return true;
            case "translation": family = TransformFamily.Translation; return true;
            case "flip": family = TransformFamily.Flip; return true;
            case "rotation-continuous": family = TransformFamily.RotationContinuous; return true;
            case "translation-continuous": family = TransformFamily.TranslationContinuous; return true;
            default: family = default; return false;
        }
    }

    public static bool TryParseSimilarity(string? name, out SimilarityKind kind)
    {
        switch (name?.Trim().ToLowerInvariant())
        {
            case "pearson": kind = SimilarityKind.Pearson; return true;
            case "cosine": kind = SimilarityKind.Cosine; return true;
            default: kind = default; return false;
        }
    }

    public static string UnknownTransform(string? name) => $"Unknown transform '{name}'. Use rotation, translation, flip, rotation-continuous or translation-continuous.";
    public static string UnknownSimilarity(string? name) => $"Unknown similarity '{name}'. Use pearson or cosine.";

    public static TransformFamily ParseTransform(string name) =>
        TryParseTransform(name, out var family) ? family : throw new EquivarianceLabException(UnknownTransform(name));

    public static SimilarityKind ParseSimilarity(string name) =>
        TryParseSimilarity(name, out var kind) ? kind : throw new EquivarianceLabException(UnknownSimilarity(name));
}
