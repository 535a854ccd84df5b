using static TorchSharp.torch;

namespace EquivarianceLab.Measure;

/// <summary>
/// Bilinear resampling of an h×w grid: where each output position reads (its four neighbours of a source point and
/// their weights), and whether that source point lies inside the grid. Corners outside the grid weigh 0 (zeros
/// padding, <c>grid_sample</c>'s <c>align_corners=true</c> geometry: pixel centres at integer coordinates).
/// Weights are worked out in double, so a source point on a pixel centre reads that pixel with weight exactly 1.
/// </summary>
internal sealed class BilinearSampling
{
    /// <summary>
    /// How far (in pixels) a source point may lie outside the grid and still count as inside: a 90° rotation's
    /// source points are pixel centres, and rounding must not lose the border.
    /// </summary>
    public const double Tolerance = 1e-9;

    private const int CornersPerPosition = 4;
    private readonly long[] _corners;
    private readonly float[] _weights;
    private readonly long _height, _width;

    /// <summary>The positions (row-major <c>i·w + j</c>, ascending) whose source point lies inside the grid.</summary>
    public long[] Inside { get; }

    private BilinearSampling(long height, long width, long[] corners, float[] weights, long[] inside)
    {
        (_height, _width, _corners, _weights, Inside) = (height, width, corners, weights, inside);
    }

    /// <param name="source">The source point (row, column) of output position (i, j), in pixels of the same grid.</param>
    public static BilinearSampling Of(long height, long width, Func<long, long, (double Row, double Column)> source)
    {
        long positions = height * width;
        var corners = new long[positions * CornersPerPosition];
        var weights = new float[positions * CornersPerPosition];
        var inside = new List<long>();
        for (long i = 0; i < height; i++)
            for (long j = 0; j < width; j++)
            {
                long p = i * width + j;
                var (row, column) = source(i, j);
                var (rowInside, top, bottom) = Axis(row, height);
                var (columnInside, left, right) = Axis(column, width);
                if (rowInside && columnInside) inside.Add(p);
                Corner(p, 0, top, left);
                Corner(p, 1, top, right);
                Corner(p, 2, bottom, left);
                Corner(p, 3, bottom, right);
            }
        return new BilinearSampling(height, width, corners, weights, inside.ToArray());

        void Corner(long p, int k, (long Index, double Weight) row, (long Index, double Weight) column)
        {
            corners[p * CornersPerPosition + k] = row.Index * width + column.Index;
            weights[p * CornersPerPosition + k] = (float)(row.Weight * column.Weight);
        }
    }

    /// <summary>Resamples the last two dimensions of <paramref name="x"/> (<c>[.., h, w]</c>, floating point) into a new tensor.</summary>
    public Tensor Apply(Tensor x)
    {
        if (x.shape[^2] != _height || x.shape[^1] != _width)
            throw new ArgumentException($"Expected a [.., {_height}, {_width}] tensor, got [{string.Join(", ", x.shape)}].", nameof(x));
        long positions = _height * _width;
        using var scope = NewDisposeScope();
        var index = tensor(_corners, device: x.device);
        var weights = tensor(_weights, [positions, CornersPerPosition]).to(x.dtype, x.device);
        var picked = x.reshape(-1, positions).index_select(1, index).view(-1, positions, CornersPerPosition);
        return picked.mul_(weights).sum([-1L]).view(x.shape).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The grid lines either side of coordinate <paramref name="c"/> on an axis of <paramref name="size"/> pixels and
    /// their weights; a line outside the axis weighs 0 (and points at line 0). A coordinate inside the axis never
    /// puts weight outside it: on the last line it is the upper of the pair, with weight 1.
    /// </summary>
    private static (bool Inside, (long Index, double Weight) Lower, (long Index, double Weight) Upper) Axis(double c, long size)
    {
        bool inside = c >= -Tolerance && c <= size - 1 + Tolerance;
        if (inside) c = Math.Clamp(c, 0, size - 1);
        long lower = (long)Math.Floor(c);
        if (inside && lower == size - 1 && size > 1) lower = size - 2;
        double upper = c - lower;
        return (inside, Line(lower, 1 - upper, size), Line(lower + 1, upper, size));
    }

    private static (long Index, double Weight) Line(long index, double weight, long size) =>
        index >= 0 && index < size ? (index, weight) : (0, 0);
}
