namespace EquivarianceLab.Probes;

/// <summary>
/// Limits that keep a hostile or accidental probe archive (zip slip, zip bomb, pixel bomb) from exhausting the
/// machine. The defaults suit any real probe set; uploads may configure smaller ones.
/// </summary>
public sealed record ProbeLimits
{
    /// <summary>Most entries (files) a zip or folder may hold.</summary>
    public int MaxEntries { get; init; } = 100_000;

    /// <summary>Most bytes all entries of a zip may inflate to, declared and actually counted.</summary>
    public long MaxUncompressedBytes { get; init; } = 4L << 30;

    /// <summary>Largest uncompressed:compressed ratio of one zip entry.</summary>
    public double MaxCompressionRatio { get; init; } = 1000;

    /// <summary>Most pixels (width × height) of one decoded image, so a tiny PNG cannot ask for gigabytes.</summary>
    public long MaxImagePixels { get; init; } = 100_000_000;

    public static ProbeLimits Default { get; } = new();
}
