using SkiaSharp;

namespace EquivarianceLab.Web.ProbeSets;

/// <summary>Small PNGs of a probe set's first images (kept in the store; the probe set records their hashes).</summary>
public static class Thumbnails
{
    public const string FileName = "thumbnail.png";

    /// <summary>One PNG per image ([C, H, W] floats, any range: each image is stretched to its own min..max).</summary>
    public static List<byte[]> Encode(IReadOnlyList<float[]> images, IReadOnlyList<long> shape)
    {
        var pngs = new List<byte[]>(images.Count);
        int c = (int)shape[0], h = (int)shape[1], w = (int)shape[2];
        for (var i = 0; i < images.Count; i++)
        {
            var px = images[i];
            float min = float.MaxValue, max = float.MinValue;
            foreach (var v in px) { if (v < min) min = v; if (v > max) max = v; }
            var scale = max > min ? 255f / (max - min) : 0f;
            using var bmp = new SKBitmap(w, h, SKColorType.Rgba8888, SKAlphaType.Opaque);
            for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                byte At(int ch) => (byte)Math.Clamp((px[(ch * h + y) * w + x] - min) * scale, 0, 255);
                var r = At(0);
                bmp.SetPixel(x, y, c >= 3 ? new SKColor(r, At(1), At(2)) : new SKColor(r, r, r));
            }
            using var data = bmp.Encode(SKEncodedImageFormat.Png, 100);
            pngs.Add(data.ToArray());
        }
        return pngs;
    }
}
