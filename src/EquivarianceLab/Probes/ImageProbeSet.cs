using SkiaSharp;
using TorchSharp;

namespace EquivarianceLab.Probes;

/// <summary>
/// A folder (searched recursively) or a <c>.zip</c> of PNG/JPEG images, in ordinal order of their relative names,
/// decoded per batch. With a <see cref="ProbeTarget"/> each image is resized to cover the model's input, centre-
/// cropped and normalised by its preprocessing; without one all images must share one size and become RGB in [0, 1].
/// Alpha is dropped (as PIL's <c>convert("RGB")</c>); EXIF orientation and colour profiles are ignored, as PIL does.
/// </summary>
public sealed class ImageProbeSet : IProbeSet
{
    private readonly IImageSource _source;
    private readonly PixelPipeline _pipeline;
    private readonly ProbeLimits _limits;
    private readonly long[] _imageShape;
    private readonly object _gate = new();

    private ImageProbeSet(IImageSource source, ProbeTarget? target, ProbeLimits limits)
    {
        _source = source;
        _limits = limits;
        if (source.Count == 0)
            throw new EquivarianceLabException($"Probe set {source.Name} contains no PNG or JPEG images.");

        // Check every entry's header up front, before anything is decoded, so a bad file or a tile bomb (many
        // small files declaring huge images) fails the run before any measurement starts.
        var sizes = new (int W, int H)[source.Count];
        long totalPixels = 0;
        for (int i = 0; i < source.Count; i++)
        {
            sizes[i] = ReadHeader(source, i, limits);
            totalPixels += (long)sizes[i].W * sizes[i].H;
            if (totalPixels > limits.MaxTotalPixels)
                throw new EquivarianceLabException(
                    $"Probe set {source.Name} declares more than {limits.MaxTotalPixels} pixels in all (the limit for a whole set) " +
                    $"by {source.Describe(i)}, image {i + 1} of {source.Count}; refusing a possible tile bomb.");
        }
        if (target is null)
        {
            int odd = Array.FindIndex(sizes, s => s != sizes[0]);
            if (odd >= 0)
                throw new EquivarianceLabException(
                    $"Probe images differ in size: {source.Describe(0)} is {sizes[0].W}×{sizes[0].H} but {source.Describe(odd)} is {sizes[odd].W}×{sizes[odd].H}; " +
                    "without a model input size to resize to, all images must be the same size.");
            _pipeline = PixelPipeline.Plain(sizes[0].H, sizes[0].W);
        }
        else
        {
            CheckTargetSize(target, limits);
            _pipeline = new PixelPipeline(target.Channels, target.Height, target.Width, target.Preprocessing, "the model");
        }
        _imageShape = [_pipeline.Channels, _pipeline.Height, _pipeline.Width];
    }

    public static ImageProbeSet OpenFolder(string folder, ProbeTarget? target = null, ProbeLimits? limits = null)
    {
        limits ??= ProbeLimits.Default;
        return Create(new FolderImageSource(folder, limits), target, limits);
    }

    public static ImageProbeSet OpenZip(string zipPath, ProbeTarget? target = null, ProbeLimits? limits = null)
    {
        limits ??= ProbeLimits.Default;
        return Create(new ZipImageSource(zipPath, limits), target, limits);
    }

    private static ImageProbeSet Create(IImageSource source, ProbeTarget? target, ProbeLimits limits)
    {
        try
        {
            return new ImageProbeSet(source, target, limits);
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    public string Name => _source.Name;
    public int Count => _source.Count;
    public IReadOnlyList<long> ImageShape => _imageShape;

    /// <summary>Image names relative to the folder or zip, in probe order.</summary>
    public IReadOnlyList<string> EntryNames => Enumerable.Range(0, _source.Count).Select(_source.RelativeName).ToArray();

    public torch.Tensor ReadBatch(int start, int count)
    {
        ProbeTensors.CheckRange(start, count, Count);
        int imageFloats = _pipeline.Channels * _pipeline.Height * _pipeline.Width;
        var data = new float[checked(count * imageFloats)];
        var encoded = new byte[count][];
        lock (_gate)
        {
            // Reading is serial (a zip archive is not thread-safe); decoding runs on all cores.
            for (int i = 0; i < count; i++) encoded[i] = _source.Read(start + i);
        }
        try
        {
            Parallel.For(0, count, i =>
            {
                var image = Decode(encoded[i], _source.Describe(start + i), _limits);
                encoded[i] = [];
                _pipeline.Write(image, data.AsSpan(i * imageFloats, imageFloats));
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.OfType<EquivarianceLabException>().Any())
        {
            // Report the first bad image (in probe order) as the one clear message callers expect.
            throw e.InnerExceptions.OfType<EquivarianceLabException>().First();
        }
        return ProbeTensors.FromFloats(data, count, _imageShape);
    }

    public void Dispose() => _source.Dispose();

    /// <summary>Every image is resized to the model's input, so that size obeys the per-image limit too.</summary>
    internal static void CheckTargetSize(ProbeTarget target, ProbeLimits limits)
    {
        if ((long)target.Height * target.Width > limits.MaxImagePixels)
            throw new EquivarianceLabException(
                $"The model's input size {target.Height}×{target.Width} is over the limit of {limits.MaxImagePixels} pixels per image.");
    }

    private static (int W, int H) ReadHeader(IImageSource source, int index, ProbeLimits limits)
    {
        using var data = SKData.CreateCopy(source.Read(index));
        using var codec = OpenCodec(data, source.Describe(index), limits);
        return (codec.Info.Width, codec.Info.Height);
    }

    private static SKCodec OpenCodec(SKData data, string what, ProbeLimits limits)
    {
        var codec = SKCodec.Create(data)
                    ?? throw new EquivarianceLabException($"{Capitalise(what)} is not a PNG or JPEG image.");
        if (codec.EncodedFormat is not (SKEncodedImageFormat.Png or SKEncodedImageFormat.Jpeg))
        {
            var format = codec.EncodedFormat;
            codec.Dispose();
            throw new EquivarianceLabException($"{Capitalise(what)} is a {format} image; probe images must be PNG or JPEG.");
        }
        if ((long)codec.Info.Width * codec.Info.Height > limits.MaxImagePixels)
        {
            var (w, h) = (codec.Info.Width, codec.Info.Height);
            codec.Dispose();
            throw new EquivarianceLabException($"{Capitalise(what)} is {w}×{h} pixels, over the limit of {limits.MaxImagePixels} pixels per image.");
        }
        return codec;
    }

    internal static RgbaImage Decode(byte[] bytes, string what, ProbeLimits limits)
    {
        using var data = SKData.CreateCopy(bytes);
        using var codec = OpenCodec(data, what, limits);
        int w = codec.Info.Width, h = codec.Info.Height;
        var info = PixelPipeline.Info(w, h);
        var pixels = new byte[info.BytesSize];
        var result = codec.GetPixels(info, pixels);
        if (result != SKCodecResult.Success)
            throw new EquivarianceLabException($"{Capitalise(what)} could not be decoded ({result}).");
        for (int i = 3; i < pixels.Length; i += 4) pixels[i] = 255;
        return new RgbaImage(w, h, pixels);
    }

    private static string Capitalise(string s) => s.Length > 0 && char.IsLower(s[0]) ? char.ToUpperInvariant(s[0]) + s[1..] : s;
}
