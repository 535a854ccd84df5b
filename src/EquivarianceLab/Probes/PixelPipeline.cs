using System.Runtime.InteropServices;
using SkiaSharp;

namespace EquivarianceLab.Probes;

/// <summary>An opaque decoded image: straight (unpremultiplied) RGBA8888 rows, alpha forced to 255.</summary>
internal sealed record RgbaImage(int Width, int Height, byte[] Pixels);

/// <summary>
/// Turns decoded pixels into the model's input: cover-resize and centre-crop to the target size, pick the
/// channels, then <c>(pixel * Scale - Mean[c]) / Std[c]</c>. One instance per probe set.
/// </summary>
internal sealed class PixelPipeline
{
    private enum Order { Rgb, Bgr, L }

    private readonly Order _order;
    private readonly double _scale;
    private readonly double[] _mean;
    private readonly double[] _std;

    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }

    public PixelPipeline(int channels, int height, int width, Preprocessing pre, string modelContext)
    {
        _order = pre.ChannelOrder.ToUpperInvariant() switch
        {
            "RGB" => Order.Rgb,
            "BGR" => Order.Bgr,
            "L" => Order.L,
            _ => throw new EquivarianceLabException($"Unknown channel order '{pre.ChannelOrder}' in the preprocessing of {modelContext}; use RGB, BGR or L."),
        };
        int orderChannels = _order == Order.L ? 1 : 3;
        if (channels != orderChannels)
            throw new EquivarianceLabException($"{modelContext} expects {channels} input channel(s) but its channel order '{pre.ChannelOrder}' gives {orderChannels}.");
        if (height <= 0 || width <= 0)
            throw new EquivarianceLabException($"{modelContext} has an invalid input size {height}×{width}.");
        if (!double.IsFinite(pre.Scale) || pre.Scale == 0)
            throw new EquivarianceLabException($"The preprocessing scale of {modelContext} must be a non-zero number, not {pre.Scale}.");
        Channels = channels;
        Height = height;
        Width = width;
        _scale = pre.Scale;
        _mean = PerChannel(pre.Mean, "mean", channels, modelContext);
        _std = PerChannel(pre.Std, "std", channels, modelContext);
        if (_std.Any(s => s == 0 || !double.IsFinite(s)))
            throw new EquivarianceLabException($"The preprocessing std of {modelContext} must be non-zero in every channel.");
        if (_mean.Any(m => !double.IsFinite(m)))
            throw new EquivarianceLabException($"The preprocessing mean of {modelContext} must be finite in every channel.");
        // (p·scale − mean)/std is monotonic in p, so pixels 0 and 255 bound it: both must stay finite as float32,
        // or a hostile card (scale 1e300, std 1e-300) would turn ordinary images into ±Inf probe values.
        for (int c = 0; c < channels; c++)
            if (!float.IsFinite((float)((0 * _scale - _mean[c]) / _std[c])) || !float.IsFinite((float)((255 * _scale - _mean[c]) / _std[c])))
                throw new EquivarianceLabException(
                    $"The preprocessing of {modelContext} maps pixels outside the float32 range in channel {c} (scale {pre.Scale}, mean {_mean[c]}, std {_std[c]}).");
    }

    /// <summary>The pipeline for probe images without a model target: RGB scaled to [0, 1].</summary>
    public static PixelPipeline Plain(int height, int width) => new(3, height, width, new Preprocessing(), "the probe set");

    private static double[] PerChannel(double[]? values, string what, int channels, string context)
    {
        if (values is null || values.Length == 0) return Enumerable.Repeat(what == "std" ? 1.0 : 0.0, channels).ToArray();
        if (values.Length == channels) return values;
        // One value for all channels; and a grey model may keep the default three equal values.
        if (values.Length == 1 || (channels == 1 && values.All(v => v == values[0]))) return Enumerable.Repeat(values[0], channels).ToArray();
        throw new EquivarianceLabException($"The preprocessing {what} of {context} has {values.Length} values but the model has {channels} input channel(s).");
    }

    /// <summary>Writes one image's <c>[C, Height, Width]</c> floats into <paramref name="dest"/>.</summary>
    public void Write(RgbaImage image, Span<float> dest)
    {
        var fitted = CoverAndCrop(image, Width, Height);
        int plane = Width * Height;
        var px = fitted.Pixels;
        for (int c = 0; c < Channels; c++)
        {
            var (scale, mean, std) = (_scale, _mean[c], _std[c]);
            var target = dest.Slice(c * plane, plane);
            int source = _order switch { Order.Rgb => c, Order.Bgr => 2 - c, _ => -1 };
            for (int i = 0; i < plane; i++)
            {
                int o = i * 4;
                int v = source >= 0
                    ? px[o + source]
                    // PIL's convert("L"): ITU-R 601-2 luma in 16.16 fixed point, so grey pixels stay exact.
                    : (px[o] * 19595 + px[o + 1] * 38470 + px[o + 2] * 7471 + 0x8000) >> 16;
                target[i] = (float)((v * scale - mean) / std);
            }
        }
    }

    /// <summary>
    /// Scales so the image covers width×height (the non-limiting side truncated, as torchvision's Resize does),
    /// then takes the centre window (offsets rounded half to even, as torchvision's CenterCrop). Upscaling uses
    /// Mitchell cubic; downscaling linear with linear mipmaps, so large reductions do not alias.
    /// </summary>
    public static RgbaImage CoverAndCrop(RgbaImage image, int width, int height)
    {
        int w = image.Width, h = image.Height;
        if (w == width && h == height) return image;
        int rw, rh;
        if ((long)width * h >= (long)height * w)
        {
            rw = width;
            rh = Math.Max(height, (int)((long)h * width / w));
        }
        else
        {
            rh = height;
            rw = Math.Max(width, (int)((long)w * height / h));
        }
        var resized = rw == w && rh == h ? image : Resize(image, rw, rh);
        if (rw == width && rh == height) return resized;
        int left = (int)Math.Round((rw - width) / 2.0, MidpointRounding.ToEven);
        int top = (int)Math.Round((rh - height) / 2.0, MidpointRounding.ToEven);
        var cropped = new byte[width * height * 4];
        for (int y = 0; y < height; y++)
            Buffer.BlockCopy(resized.Pixels, ((top + y) * rw + left) * 4, cropped, y * width * 4, width * 4);
        return new RgbaImage(width, height, cropped);
    }

    private static RgbaImage Resize(RgbaImage image, int width, int height)
    {
        var sampling = width >= image.Width && height >= image.Height
            ? new SKSamplingOptions(SKCubicResampler.Mitchell)
            : new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear);
        var result = new byte[checked(width * height * 4)];
        var srcHandle = GCHandle.Alloc(image.Pixels, GCHandleType.Pinned);
        var dstHandle = GCHandle.Alloc(result, GCHandleType.Pinned);
        try
        {
            using var src = new SKPixmap(Info(image.Width, image.Height), srcHandle.AddrOfPinnedObject());
            using var dst = new SKPixmap(Info(width, height), dstHandle.AddrOfPinnedObject());
            if (!src.ScalePixels(dst, sampling))
                throw new InvalidOperationException($"SkiaSharp could not resize a {image.Width}×{image.Height} image to {width}×{height}.");
        }
        finally
        {
            srcHandle.Free();
            dstHandle.Free();
        }
        return new RgbaImage(width, height, result);
    }

    public static SKImageInfo Info(int width, int height) => new(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
}
