using EquivarianceLab.Measure;
using SkiaSharp;

namespace EquivarianceLab.Web.Runs;

/// <summary>
/// A pair of feature maps drawn as two PNGs of exactly the grid's size (one pixel per position, w × h; the page scales
/// them up with <c>image-rendering: pixelated</c>), on one diverging colour scale shared by both so they can be compared:
/// 0 is white, +m full red, −m full blue, where m is the largest |value| of the two grids.
/// </summary>
public static class FeatureMapImages
{
    private static readonly SKColor Zero = new(255, 255, 255), Positive = new(178, 24, 43), Negative = new(33, 102, 172);

    /// <summary>Drawn where a value is not a finite number.</summary>
    private static readonly SKColor NotFinite = new(0, 0, 0);

    public static FeatureMapView Draw(FeatureMapPair pair)
    {
        var scale = ScaleOf(pair.Moved, pair.Reference);
        return new FeatureMapView(pair.Image, pair.Layer, pair.Channel, pair.Transform, pair.Partner, pair.Height, pair.Width,
            pair.Similarity, pair.SelfSimilarity, scale,
            Encode(pair.Moved, pair.Width, pair.Height, scale), Encode(pair.Reference, pair.Width, pair.Height, scale));
    }

    /// <summary>The largest finite |value| of both grids (0 when all are 0).</summary>
    public static double ScaleOf(float[] a, float[] b) =>
        a.Concat(b).Where(float.IsFinite).Select(v => Math.Abs((double)v)).DefaultIfEmpty(0).Max();

    /// <summary>A row-major grid of <paramref name="height"/> × <paramref name="width"/> values as a PNG of that many pixels.</summary>
    public static byte[] Encode(float[] grid, int width, int height, double scale)
    {
        if (grid.Length != width * height) throw new ArgumentException($"A {width}×{height} grid has {width * height} values, not {grid.Length}.", nameof(grid));
        using var bitmap = new SKBitmap(width, height, SKColorType.Bgra8888, SKAlphaType.Opaque); // SKColor's own byte order
        bitmap.Pixels = grid.Select(v => Colour(v, scale)).ToArray();
        using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }

    /// <summary>White at 0, towards red for positive and blue for negative values, saturated at ±<paramref name="scale"/>.</summary>
    public static SKColor Colour(float value, double scale)
    {
        if (!float.IsFinite(value)) return NotFinite;
        var t = scale > 0 ? Math.Clamp(value / scale, -1, 1) : 0;
        var end = t >= 0 ? Positive : Negative;
        byte Mix(byte from, byte to) => (byte)Math.Round(from + Math.Abs(t) * (to - from));
        return new SKColor(Mix(Zero.Red, end.Red), Mix(Zero.Green, end.Green), Mix(Zero.Blue, end.Blue));
    }
}

/// <summary>
/// The feature maps of one request as the app keeps and serves them: the numbers of <see cref="FeatureMapPair"/> but
/// the grids drawn as PNGs (<see cref="FeatureMapImages"/>), and <see cref="Scale"/>, the |value| drawn at full colour.
/// </summary>
public sealed record FeatureMapView(int Image, string Layer, int Channel, string Transform, int Partner, int Height, int Width,
    double? Similarity, double? SelfSimilarity, double Scale, byte[] Moved, byte[] Reference);
