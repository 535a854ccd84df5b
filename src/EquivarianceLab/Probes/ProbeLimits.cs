namespace EquivarianceLab.Probes;

/// <summary>
/// Limits that keep a hostile or accidental probe set (zip slip, zip bomb, pixel bomb, tile bomb) from exhausting
/// the machine. Every one is checked from headers — zip directory, image header, IDX header — before anything is
/// decoded. The defaults suit any real probe set; uploads may configure smaller ones. This record is the one place
/// the defaults live (the web app's options start from <see cref="Default"/>).
/// </summary>
public sealed record ProbeLimits
{
    /// <summary>Most entries (files) a zip or folder may hold, and most images in an IDX file.</summary>
    public int MaxEntries { get; init; } = 100_000;

    /// <summary>Most bytes all entries of a zip may inflate to, declared and actually counted.</summary>
    public long MaxUncompressedBytes { get; init; } = 4L << 30;

    /// <summary>Largest uncompressed:compressed ratio of one zip entry, or of a gzip-compressed IDX file.</summary>
    public double MaxCompressionRatio { get; init; } = 1000;

    /// <summary>
    /// Most pixels (width × height) of one image — as its header declares it, and the model input it is resized
    /// to — so a tiny PNG cannot ask for gigabytes. 4096 × 4096; ImageNet photos are far below (≈ 500 × 375).
    /// </summary>
    public long MaxImagePixels { get; init; } = 4096L * 4096;

    /// <summary>
    /// Most pixels of all images of a set together, as their headers declare them: a thousand tiles each under
    /// <see cref="MaxImagePixels"/> must not add up to a day of decoding. One billion: 1.3 M Fashion-MNIST images, or
    /// ≈ 5 000 ImageNet photos.
    /// </summary>
    public long MaxTotalPixels { get; init; } = 1_000_000_000;

    public static ProbeLimits Default { get; } = new();
}
