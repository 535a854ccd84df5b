using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Measure;

/// <summary>
/// One group element <c>g</c> (docs/measure.md, "Transforms"): how it acts on the input batch and on a spatial
/// feature map. The paper's families permute positions, so they preserve each channel's mean and norm; the
/// continuous families resample (<see cref="ResampledTransform"/>).
/// </summary>
public abstract class SpatialTransform
{
    /// <summary>Key in per-transform results: rot90|rot180|rot270, shift1…shiftK, flip; rot{angle}, shift{s} for the continuous families.</summary>
    public abstract string Key { get; }

    /// <summary>Acts on <c>[.., H, W]</c> tensors: the model input.</summary>
    public abstract Tensor ApplyToInput(Tensor x);

    /// <summary>Acts on a spatial feature map <c>[.., h, w]</c> of a model whose input is <paramref name="inputHeight"/>×<paramref name="inputWidth"/>.</summary>
    public abstract Tensor ApplyToFeature(Tensor f, long inputHeight, long inputWidth);

    /// <summary>The inverse action on a spatial feature map: g⁻¹·f. Always returns a new contiguous tensor.</summary>
    public abstract Tensor ApplyInverseToFeature(Tensor f, long inputHeight, long inputWidth);

    /// <summary>The members of the family <paramref name="options"/> asks for, in reporting order; refuses unusable angles and shifts.</summary>
    public static IReadOnlyList<SpatialTransform> Family(MeasureOptions options)
    {
        ContinuousFamilies.Check(options);
        return ContinuousFamilies.IsContinuous(options.Transform) ? ContinuousFamilies.Members(options) : Family(options.Transform, options.MaxShift);
    }

    /// <summary>The members of a family, in reporting order (the continuous ones with their default angles and shifts).</summary>
    public static IReadOnlyList<SpatialTransform> Family(TransformFamily family, int maxShift) => family switch
    {
        TransformFamily.Rotation => [new Rotation(1), new Rotation(2), new Rotation(3)],
        TransformFamily.Translation => maxShift >= 1
            ? Enumerable.Range(1, maxShift).Select(k => (SpatialTransform)new DiagonalShift(k)).ToList()
            : throw new EquivarianceLabException($"--max-shift must be at least 1 (got {maxShift})."),
        TransformFamily.Flip => [new HorizontalFlip()],
        TransformFamily.RotationContinuous or TransformFamily.TranslationContinuous => Family(new MeasureOptions { Transform = family }),
        _ => throw new ArgumentOutOfRangeException(nameof(family)),
    };
}

/// <summary>Rotation by k·90° with numpy <c>rot90(x, k, axes=(H, W))</c> semantics.</summary>
public sealed class Rotation(int quarterTurns) : SpatialTransform
{
    public int QuarterTurns { get; } = quarterTurns;
    public override string Key => $"rot{90 * QuarterTurns}";

    public override Tensor ApplyToInput(Tensor x) => Rotate(x, QuarterTurns);
    public override Tensor ApplyToFeature(Tensor f, long inputHeight, long inputWidth) => Rotate(f, QuarterTurns);
    public override Tensor ApplyInverseToFeature(Tensor f, long inputHeight, long inputWidth) => Rotate(f, 4 - QuarterTurns);

    /// <summary>numpy: k=1 flips the transpose along H; k=2 flips both; k=3 flips the transpose along W (one copy each).</summary>
    public static Tensor Rotate(Tensor x, int k) => (((k % 4) + 4) % 4) switch
    {
        0 => x.clone(),
        1 => x.transpose(-2, -1).flip(-2),
        2 => x.flip(-2, -1),
        _ => x.transpose(-2, -1).flip(-1),
    };
}

/// <summary>
/// Circular shift by (k, k) on the input (numpy <c>roll</c>: content moves toward larger indices); on an
/// h×w feature map of an H×W input, by (round(k·h/H), round(k·w/W)) rounding half away from zero.
/// </summary>
public sealed class DiagonalShift(int shift) : SpatialTransform
{
    public int Shift { get; } = shift;
    public override string Key => $"shift{Shift}";

    public override Tensor ApplyToInput(Tensor x) => x.roll([Shift, Shift], [-2, -1]);

    public override Tensor ApplyToFeature(Tensor f, long inputHeight, long inputWidth)
    {
        long h = f.shape[^2], w = f.shape[^1];
        return f.roll([ScaledShift(Shift, h, inputHeight), ScaledShift(Shift, w, inputWidth)], [-2, -1]);
    }

    public override Tensor ApplyInverseToFeature(Tensor f, long inputHeight, long inputWidth)
    {
        long h = f.shape[^2], w = f.shape[^1];
        return f.roll([-ScaledShift(Shift, h, inputHeight), -ScaledShift(Shift, w, inputWidth)], [-2, -1]);
    }

    /// <summary>round(k·size/inputSize), half away from zero, in exact integer arithmetic (all terms are non-negative).</summary>
    public static long ScaledShift(long k, long size, long inputSize) => (2 * k * size + inputSize) / (2 * inputSize);
}

/// <summary>Mirrors columns.</summary>
public sealed class HorizontalFlip : SpatialTransform
{
    public override string Key => "flip";
    public override Tensor ApplyToInput(Tensor x) => x.flip(-1);
    public override Tensor ApplyToFeature(Tensor f, long inputHeight, long inputWidth) => f.flip(-1);
    public override Tensor ApplyInverseToFeature(Tensor f, long inputHeight, long inputWidth) => f.flip(-1);
}
