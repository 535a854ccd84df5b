using System.Collections.Concurrent;
using System.Globalization;
using static TorchSharp.torch;

namespace EquivarianceLab.Measure;

/// <summary>
/// A transform that moves content by amounts that are not whole pixels (docs/measure.md, "Continuous transforms"):
/// position p of g·f is f bilinearly interpolated at the source point g⁻¹p, zero where that point's neighbours lie
/// outside the grid. It is no permutation, so the measure compares f(gX) with g·f(X) on the <see cref="ValidPositions"/>
/// only (<see cref="ResampledComparison"/>).
/// </summary>
public abstract class ResampledTransform : SpatialTransform
{
    private readonly ConcurrentDictionary<(long, long, long, long), BilinearSampling> _samplings = new();

    /// <summary>
    /// The source point g⁻¹p (row, column), in pixels, of position (<paramref name="row"/>, <paramref name="column"/>)
    /// on an <paramref name="h"/>×<paramref name="w"/> grid of an <paramref name="inputHeight"/>×<paramref name="inputWidth"/> input.
    /// </summary>
    public abstract (double Row, double Column) Source(long row, long column, long h, long w, long inputHeight, long inputWidth);

    /// <summary>g⁻¹, a transform of the same kind.</summary>
    public abstract ResampledTransform Inverse { get; }

    public override Tensor ApplyToInput(Tensor x) => Sampling(x.shape[^2], x.shape[^1], x.shape[^2], x.shape[^1]).Apply(x);

    public override Tensor ApplyToFeature(Tensor f, long inputHeight, long inputWidth) =>
        Sampling(f.shape[^2], f.shape[^1], inputHeight, inputWidth).Apply(f);

    /// <summary>Resamples by g⁻¹. Not an exact inverse (what g moved off the grid is gone, and each resampling smooths); the measure does not use it.</summary>
    public override Tensor ApplyInverseToFeature(Tensor f, long inputHeight, long inputWidth) => Inverse.ApplyToFeature(f, inputHeight, inputWidth);

    /// <summary>
    /// The valid region of an h×w grid: the positions (row-major <c>i·w + j</c>, ascending) whose source point lies
    /// inside the grid, within <see cref="BilinearSampling.Tolerance"/> — there bilinear reads nothing from outside.
    /// </summary>
    public long[] ValidPositions(long h, long w, long inputHeight, long inputWidth) => Sampling(h, w, inputHeight, inputWidth).Inside;

    /// <summary><see cref="ValidPositions"/> as a bool <c>[h, w]</c> mask.</summary>
    public Tensor ValidRegion(long h, long w, long inputHeight, long inputWidth)
    {
        var mask = new bool[h * w];
        foreach (var p in ValidPositions(h, w, inputHeight, inputWidth)) mask[p] = true;
        return tensor(mask, [h, w]);
    }

    /// <summary>A key's number: invariant culture, shortest round-trip form (45, 22.5, 0.5).</summary>
    protected static string KeyNumber(double value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Made once per grid and input size: every batch and layer of that size reuses it.</summary>
    private BilinearSampling Sampling(long h, long w, long inputHeight, long inputWidth) =>
        _samplings.GetOrAdd((h, w, inputHeight, inputWidth),
            size => BilinearSampling.Of(size.Item1, size.Item2, (i, j) => Source(i, j, size.Item1, size.Item2, size.Item3, size.Item4)));
}
