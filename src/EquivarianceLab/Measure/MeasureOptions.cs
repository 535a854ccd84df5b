namespace EquivarianceLab.Measure;

public enum TransformFamily { Rotation, Translation, Flip }

public enum SimilarityKind { Pearson, Cosine }

public sealed record MeasureOptions
{
    public TransformFamily Transform { get; init; } = TransformFamily.Rotation;
    public SimilarityKind Similarity { get; init; } = SimilarityKind.Pearson;
    /// <summary>Largest diagonal shift for translation (shifts 1..K).</summary>
    public int MaxShift { get; init; } = 16;
    public int BatchSize { get; init; } = 32;
    /// <summary>Number of probe images; null = all up to <see cref="DefaultMaxImages"/>.</summary>
    public int? Images { get; init; }

    public const int DefaultMaxImages = 2000;
}

/// <summary>Progress of a running measurement.</summary>
public sealed record MeasureProgress(int ImagesDone, int ImagesTotal, double ImagesPerSecond, TimeSpan? Eta);
