namespace EquivarianceLab.Measure;

/// <summary>
/// Rotation by any angle about the grid's centre ((h−1)/2, (w−1)/2), counter-clockwise like numpy's rot90: at 90°
/// every source point is a pixel centre and the result is <see cref="Rotation"/>(1)'s, exactly.
/// </summary>
public sealed class ContinuousRotation(double degrees) : ResampledTransform
{
    public double Degrees { get; } = degrees;
    public override string Key => $"rot{KeyNumber(Degrees)}";
    public override ResampledTransform Inverse => new ContinuousRotation(-Degrees);

    /// <summary>
    /// With y = i − (h−1)/2, x = j − (w−1)/2 (rows down): the source is (y·cos θ + x·sin θ, x·cos θ − y·sin θ) about
    /// the centre — at θ = 90°, (x, −y): numpy's <c>out[i, j] = in[j, w−1−i]</c>. The same angle on every grid.
    /// </summary>
    public override (double Row, double Column) Source(long row, long column, long h, long w, long inputHeight, long inputWidth)
    {
        var (cos, sin) = CosSin(Degrees);
        double cy = (h - 1) / 2.0, cx = (w - 1) / 2.0, y = row - cy, x = column - cx;
        return (cy + y * cos + x * sin, cx + x * cos - y * sin);
    }

    /// <summary>Exact at multiples of 90° (Math.Cos(π/2) is 6e-17, which would put a quarter turn's source points a hair off the pixels).</summary>
    public static (double Cos, double Sin) CosSin(double degrees) => Math.IEEERemainder(degrees, 360) switch
    {
        0 => (1, 0),
        90 => (0, 1),
        180 or -180 => (-1, 0),
        -90 => (0, -1),
        var r => (Math.Cos(r * Math.PI / 180), Math.Sin(r * Math.PI / 180)),
    };
}
