using System.Buffers.Binary;
using System.IO.Compression;
using TorchSharp;

namespace EquivarianceLab.Probes;

/// <summary>Images from an IDX3 file: <see cref="Count"/> images of <see cref="Height"/>×<see cref="Width"/> bytes, row-major.</summary>
public sealed record IdxImages(int Count, int Height, int Width, byte[] Pixels);

/// <summary>The images and labels files of one Fashion-MNIST split.</summary>
public sealed record FashionMnistFiles(string Images, string Labels);

public enum FashionMnistSplit { Test, Train }

/// <summary>
/// Fashion-MNIST in its IDX files (<c>*-images-idx3-ubyte[.gz]</c>, <c>*-labels-idx1-ubyte[.gz]</c>; gzip is
/// recognised by content). Never downloads: the test set ships in <c>models/data/fashion-mnist/</c>, both sets
/// come with Debian's <c>dataset-fashion-mnist</c>.
/// </summary>
public static class FashionMnist
{
    public const int ImagesMagic = 2051;
    public const int LabelsMagic = 2049;
    public const string SystemDirectory = "/usr/share/datasets/fashion-mnist";
    private const string RepositorySubdirectory = "models/data/fashion-mnist";

    /// <summary>
    /// Reads an IDX3 images file. Its header is checked against <paramref name="limits"/> (default
    /// <see cref="ProbeLimits.Default"/>) and against the file's length before the pixels are allocated.
    /// </summary>
    public static IdxImages LoadImages(string path, ProbeLimits? limits = null)
    {
        limits ??= ProbeLimits.Default;
        var name = Path.GetFileName(path);
        using var stream = OpenIdx(path);
        Span<byte> header = stackalloc byte[16];
        ReadExactly(stream, header[..4], name, "its magic number");
        int magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic == LabelsMagic)
            throw new EquivarianceLabException($"{name} is an IDX labels file; expected an images file (…-images-idx3-ubyte).");
        if (magic != ImagesMagic)
            throw new EquivarianceLabException($"{name} is not an IDX images file (magic number {magic}, expected {ImagesMagic}).");
        ReadExactly(stream, header[4..], name, "its header");
        int count = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        int rows = BinaryPrimitives.ReadInt32BigEndian(header[8..]);
        int cols = BinaryPrimitives.ReadInt32BigEndian(header[12..]);
        if (count < 0 || rows <= 0 || cols <= 0 || (long)count * rows * cols > Array.MaxLength)
            throw new EquivarianceLabException($"{name} has an invalid IDX header: {count} images of {rows}×{cols}.");
        CheckDeclaredSize(stream, name, count, rows, cols, limits);
        var pixels = new byte[count * rows * cols];
        ReadExactly(stream, pixels, name, $"{count} images of {rows}×{cols}");
        ExpectEnd(stream, name);
        return new IdxImages(count, rows, cols, pixels);
    }

    /// <summary>The header's promise, checked before it is trusted with an allocation.</summary>
    private static void CheckDeclaredSize(Stream stream, string name, int count, int rows, int cols, ProbeLimits limits)
    {
        long pixels = (long)count * rows * cols;
        if (count > limits.MaxEntries)
            throw new EquivarianceLabException($"{name} holds {count} images; the limit is {limits.MaxEntries}.");
        if ((long)rows * cols > limits.MaxImagePixels)
            throw new EquivarianceLabException($"{name} has images of {rows}×{cols} pixels, over the limit of {limits.MaxImagePixels} pixels per image.");
        if (pixels > limits.MaxTotalPixels)
            throw new EquivarianceLabException($"{name} declares {pixels} pixels in all, over the limit of {limits.MaxTotalPixels} for a whole set.");
        if (stream is GZipStream gzip)
        {
            long compressed = gzip.BaseStream.Length;
            if (pixels > compressed * limits.MaxCompressionRatio)
                throw new EquivarianceLabException(
                    $"{name} declares {pixels} bytes of pixels from {compressed} compressed bytes, a ratio over {limits.MaxCompressionRatio:0.##}:1; refusing a possible gzip bomb.");
        }
        else if (16 + pixels > stream.Length)
            throw new EquivarianceLabException($"{name} is truncated: {count} images of {rows}×{cols} need {16 + pixels} bytes but the file holds {stream.Length}.");
    }

    public static byte[] LoadLabels(string path)
    {
        var name = Path.GetFileName(path);
        using var stream = OpenIdx(path);
        Span<byte> header = stackalloc byte[8];
        ReadExactly(stream, header[..4], name, "its magic number");
        int magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic == ImagesMagic)
            throw new EquivarianceLabException($"{name} is an IDX images file; expected a labels file (…-labels-idx1-ubyte).");
        if (magic != LabelsMagic)
            throw new EquivarianceLabException($"{name} is not an IDX labels file (magic number {magic}, expected {LabelsMagic}).");
        ReadExactly(stream, header[4..], name, "its header");
        int count = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        if (count < 0)
            throw new EquivarianceLabException($"{name} has an invalid IDX header: {count} labels.");
        var labels = new byte[count];
        ReadExactly(stream, labels, name, $"{count} labels");
        ExpectEnd(stream, name);
        return labels;
    }

    /// <summary>Writes an IDX3 images file (gzip-compressed when the path ends in <c>.gz</c>), for tests and tools.</summary>
    public static void WriteImages(string path, IdxImages images)
    {
        if (images.Pixels.Length != (long)images.Count * images.Height * images.Width)
            throw new ArgumentException("Pixel count does not match Count × Height × Width.", nameof(images));
        WriteIdx(path, ImagesMagic, [images.Count, images.Height, images.Width], images.Pixels);
    }

    /// <summary>Writes an IDX1 labels file (gzip-compressed when the path ends in <c>.gz</c>).</summary>
    public static void WriteLabels(string path, byte[] labels) => WriteIdx(path, LabelsMagic, [labels.Length], labels);

    /// <summary>Opens an IDX images file as a probe set <c>[N, 1, 28, 28]</c> (or the target's size).</summary>
    public static IdxProbeSet OpenProbeSet(string imagesPath, ProbeTarget? target = null, ProbeLimits? limits = null)
    {
        limits ??= ProbeLimits.Default;
        if (target is not null) ImageProbeSet.CheckTargetSize(target, limits); // before the pixels are read
        return new(imagesPath, LoadImages(imagesPath, limits), target);
    }

    /// <summary>Where <see cref="Locate(FashionMnistSplit)"/> looks, in order: the repository's copy, then Debian's.</summary>
    public static IReadOnlyList<string> SearchDirectories()
    {
        var dirs = new List<string>();
        if (FeatureModels.RepositoryPaths.Root is { } root && Directory.Exists(Path.Combine(root, RepositorySubdirectory)))
            dirs.Add(Path.Combine(root, RepositorySubdirectory));
        dirs.Add(SystemDirectory);
        return dirs;
    }

    public static FashionMnistFiles Locate(FashionMnistSplit split = FashionMnistSplit.Test) => Locate(split, SearchDirectories());

    /// <summary>As <see cref="Locate(FashionMnistSplit)"/>, looking in <paramref name="first"/> (when given) before the usual places.</summary>
    public static FashionMnistFiles Locate(FashionMnistSplit split, string? first) =>
        Locate(split, first is null ? SearchDirectories() : [first, .. SearchDirectories()]);

    public static FashionMnistFiles Locate(FashionMnistSplit split, IReadOnlyList<string> searchDirectories)
    {
        string prefix = split == FashionMnistSplit.Test ? "t10k" : "train";
        foreach (var dir in searchDirectories)
        {
            var images = Find(dir, $"{prefix}-images-idx3-ubyte");
            var labels = Find(dir, $"{prefix}-labels-idx1-ubyte");
            if (images is not null && labels is not null) return new FashionMnistFiles(images, labels);
        }
        throw new EquivarianceLabException(
            $"The Fashion-MNIST {split.ToString().ToLowerInvariant()} set ({prefix}-images-idx3-ubyte.gz, {prefix}-labels-idx1-ubyte.gz) " +
            $"was not found in {string.Join(" or ", searchDirectories)}; install it with `apt-get install dataset-fashion-mnist`.");
    }

    private static string? Find(string dir, string baseName)
    {
        foreach (var candidate in new[] { baseName + ".gz", baseName })
        {
            var path = Path.Combine(dir, candidate);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    /// <summary>True when the file starts with an IDX images or labels magic number (after gunzip if gzip).</summary>
    internal static int? PeekMagic(string path)
    {
        try
        {
            using var stream = OpenIdx(path);
            Span<byte> header = stackalloc byte[4];
            int done = 0;
            while (done < 4)
            {
                int n = stream.Read(header[done..]);
                if (n == 0) return null;
                done += n;
            }
            int magic = BinaryPrimitives.ReadInt32BigEndian(header);
            return magic is ImagesMagic or LabelsMagic ? magic : null;
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    private static Stream OpenIdx(string path)
    {
        Stream file;
        try
        {
            file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EquivarianceLabException($"Cannot open {Path.GetFileName(path)}: {Messages.FileProblem(e)}.", e);
        }
        int b0 = file.ReadByte(), b1 = file.ReadByte();
        file.Position = 0;
        return b0 == 0x1f && b1 == 0x8b ? new GZipStream(file, CompressionMode.Decompress) : file;
    }

    private static void ReadExactly(Stream stream, Span<byte> buffer, string name, string what)
    {
        try
        {
            int done = 0;
            while (done < buffer.Length)
            {
                int n = stream.Read(buffer[done..]);
                if (n == 0)
                    throw new EquivarianceLabException($"{name} is truncated: it ended while reading {what} ({done} of {buffer.Length} bytes).");
                done += n;
            }
        }
        catch (InvalidDataException e)
        {
            throw new EquivarianceLabException($"{name} is corrupt: {e.Message}", e);
        }
    }

    private static void ExpectEnd(Stream stream, string name)
    {
        Span<byte> one = stackalloc byte[1];
        try
        {
            if (stream.Read(one) != 0)
                throw new EquivarianceLabException($"{name} has data after the size its IDX header declares.");
        }
        catch (InvalidDataException e)
        {
            throw new EquivarianceLabException($"{name} is corrupt: {e.Message}", e);
        }
    }

    private static void WriteIdx(string path, int magic, int[] dims, byte[] data)
    {
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write);
        using Stream stream = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionLevel.Optimal) : file;
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, magic);
        stream.Write(word);
        foreach (var d in dims)
        {
            BinaryPrimitives.WriteInt32BigEndian(word, d);
            stream.Write(word);
        }
        stream.Write(data);
    }
}

/// <summary>
/// IDX images (Fashion-MNIST) as a probe set: <c>[N, 1, H, W]</c>, <c>pixel * Scale</c> then the target's mean/std
/// (default 1/255, 0, 1). A target of another size resizes like images; a 3-channel target repeats the grey channel.
/// </summary>
public sealed class IdxProbeSet : IProbeSet
{
    private readonly IdxImages _images;
    private readonly PixelPipeline _pipeline;
    private readonly long[] _imageShape;

    internal IdxProbeSet(string path, IdxImages images, ProbeTarget? target)
    {
        Name = Path.GetFileName(path);
        if (images.Count == 0) throw new EquivarianceLabException($"{Name} holds no images.");
        _images = images;
        if (target is null)
        {
            _pipeline = new PixelPipeline(1, images.Height, images.Width, new Preprocessing { ChannelOrder = "L", Mean = [0], Std = [1] }, "the probe set");
        }
        else
        {
            // The grey image is the same in every channel order, so only the channel count matters here.
            var pre = target.Preprocessing with { ChannelOrder = target.Channels == 1 ? "L" : "RGB" };
            if (target.Channels is not (1 or 3))
                throw new EquivarianceLabException($"{Name} holds grey images; the model expects {target.Channels} channels (1 or 3 can be fed).");
            _pipeline = new PixelPipeline(target.Channels, target.Height, target.Width, pre, "the model");
        }
        _imageShape = [_pipeline.Channels, _pipeline.Height, _pipeline.Width];
    }

    public string Name { get; }
    public int Count => _images.Count;
    public IReadOnlyList<long> ImageShape => _imageShape;

    public torch.Tensor ReadBatch(int start, int count)
    {
        ProbeTensors.CheckRange(start, count, Count);
        int imageFloats = (int)(_imageShape[0] * _imageShape[1] * _imageShape[2]);
        int sourcePixels = _images.Height * _images.Width;
        var data = new float[checked(count * imageFloats)];
        Parallel.For(0, count, i =>
        {
            var rgba = new byte[sourcePixels * 4];
            var grey = _images.Pixels.AsSpan((start + i) * sourcePixels, sourcePixels);
            for (int p = 0; p < sourcePixels; p++)
            {
                byte v = grey[p];
                rgba[4 * p] = v;
                rgba[4 * p + 1] = v;
                rgba[4 * p + 2] = v;
                rgba[4 * p + 3] = 255;
            }
            _pipeline.Write(new RgbaImage(_images.Width, _images.Height, rgba), data.AsSpan(i * imageFloats, imageFloats));
        });
        return ProbeTensors.FromFloats(data, count, _imageShape);
    }

    public void Dispose() { }
}
