namespace EquivarianceLab.Measure;

/// <summary>
/// The paper's families permute positions; the two continuous ones (an extension, docs/measure.md, "Continuous
/// transforms") resample them bilinearly and compare on a valid region only.
/// </summary>
public enum TransformFamily { Rotation, Translation, Flip, RotationContinuous, TranslationContinuous }

public enum SimilarityKind { Pearson, Cosine }

public sealed record MeasureOptions
{
    public TransformFamily Transform { get; init; } = TransformFamily.Rotation;
    public SimilarityKind Similarity { get; init; } = SimilarityKind.Pearson;
    /// <summary>Largest diagonal shift for translation (shifts 1..K); at most <see cref="MaxShiftFor"/> of the probe images.</summary>
    public int MaxShift { get; init; } = 16;
    /// <summary>rotation-continuous: angles in degrees, counter-clockwise like rot90; null = <see cref="DefaultAngles"/>.</summary>
    public IReadOnlyList<double>? Angles { get; init; }
    /// <summary>
    /// translation-continuous: shifts in input pixels along both axes, content moving toward larger indices like the
    /// diagonal shifts; null = <see cref="DefaultShifts"/>.
    /// </summary>
    public IReadOnlyList<double>? Shifts { get; init; }
    public int BatchSize { get; init; } = 32;
    /// <summary>
    /// Whether the result keeps which channel each channel became under each transform (<see cref="LayerResult.Matching"/>,
    /// docs/measure.md, "Channel matching"). It costs one argmax per similarity row and a few numbers per channel.
    /// </summary>
    public bool Matching { get; init; } = true;
    /// <summary>Number of probe images; null = all up to <see cref="DefaultMaxImages"/>.</summary>
    public int? Images { get; init; }
    /// <summary>
    /// Where the model is to run: whoever opens the model for this measurement opens it there (the command line's
    /// <c>--device</c>, a dashboard worker's run). The measure itself follows the model it is given.
    /// </summary>
    public Compute.ComputeDevice Device { get; init; } = Compute.ComputeDevice.Cpu;

    public const int DefaultMaxImages = 2000;

    /// <summary>Three angles between the quarter turns, where a P4 network is not equivariant by construction, and 90° as the anchor shared with <c>rotation</c>.</summary>
    public static readonly IReadOnlyList<double> DefaultAngles = [15, 30, 45, 90];

    /// <summary>Half-way between pixels, where bilinear resampling smooths most, once below and once above one pixel.</summary>
    public static readonly IReadOnlyList<double> DefaultShifts = [0.5, 1.5];

    /// <summary>
    /// The largest <see cref="MaxShift"/> for translation on images of <paramref name="height"/>×<paramref name="width"/>
    /// (the tensor the model receives): the smaller side minus one. Shifts are circular (docs/measure.md), so a shift by
    /// k and by k + side are the same, and a shift by the side itself is the identity on a square image; shifts 1 …
    /// side − 1 are every distinct diagonal shift that moves the image along both axes. 0 when the image is too small
    /// to shift at all.
    /// </summary>
    public static int MaxShiftFor(int height, int width) => Math.Max(0, Math.Min(height, width) - 1);

    /// <summary>
    /// Why <paramref name="maxShift"/> cannot be used on images of <paramref name="height"/>×<paramref name="width"/>,
    /// or null when it can: the message a measurement with it fails with, for validating a request beforehand.
    /// </summary>
    public static string? MaxShiftError(int maxShift, int height, int width)
    {
        int max = MaxShiftFor(height, width);
        if (max < 1) return $"Translation needs images at least 2 pixels high and wide; the probe images are {height}×{width}.";
        if (maxShift < 1) return $"maxShift must be at least 1 (got {maxShift}).";
        if (maxShift > max)
            return $"maxShift must be at most {max} for {height}×{width} images (got {maxShift}): shifts are circular, so shifting by the " +
                   $"image's side ({Math.Min(height, width)}) or more repeats a smaller shift.";
        return null;
    }
}

/// <summary>Progress of a running measurement.</summary>
public sealed record MeasureProgress(int ImagesDone, int ImagesTotal, double ImagesPerSecond, TimeSpan? Eta);
