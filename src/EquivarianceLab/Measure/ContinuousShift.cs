namespace EquivarianceLab.Measure;

/// <summary>
/// Shift by (s, s) input pixels, content moving toward larger indices like <see cref="DiagonalShift"/> but not
/// circular: what leaves the grid is gone and what enters is zero (outside the valid region). On an h×w feature map
/// of an H×W input the shift is (s·h/H, s·w/W) cells, not rounded.
/// </summary>
public sealed class ContinuousShift(double pixels) : ResampledTransform
{
    public double Pixels { get; } = pixels;
    public override string Key => $"shift{KeyNumber(Pixels)}";
    public override ResampledTransform Inverse => new ContinuousShift(-Pixels);

    public override (double Row, double Column) Source(long row, long column, long h, long w, long inputHeight, long inputWidth) =>
        (row - Pixels * h / inputHeight, column - Pixels * w / inputWidth);
}
