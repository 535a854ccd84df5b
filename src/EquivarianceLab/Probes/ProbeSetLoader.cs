namespace EquivarianceLab.Probes;

/// <summary>
/// Opens any supported probe set (docs/models-and-probes.md, "Probe sets") and checks it against a model's input.
/// </summary>
public static class ProbeSetLoader
{
    private const string Formats =
        "a .npy float32 [N,C,H,W] file, a folder or .zip of PNG/JPEG images, or an IDX images file (…-images-idx3-ubyte[.gz])";

    /// <summary>
    /// Dispatches on the path: a directory is an image folder; <c>.npy</c> and <c>.zip</c> by extension; any other
    /// file by its content (NumPy magic, zip signature, IDX magic, plain or gzip). <paramref name="target"/> shapes
    /// image and IDX sets; a <c>.npy</c> is always used exactly as stored.
    /// </summary>
    public static IProbeSet Open(string path, ProbeTarget? target = null, ProbeLimits? limits = null)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new EquivarianceLabException("No probe set given.");
        if (Directory.Exists(path))
            return ImageProbeSet.OpenFolder(path, target, limits);
        if (!File.Exists(path))
            throw new EquivarianceLabException($"Probe set {Path.GetFileName(path)} does not exist.");

        var extension = Path.GetExtension(path).ToLowerInvariant();
        if (extension == ".npy") return NpyProbeSet.Open(path);
        if (extension == ".zip") return ImageProbeSet.OpenZip(path, target, limits);

        var head = new byte[6];
        int got;
        try
        {
            using var file = File.OpenRead(path);
            got = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EquivarianceLabException($"Cannot open probe set {Path.GetFileName(path)}: {Messages.FileProblem(e)}.", e);
        }
        if (got >= 6 && head[0] == 0x93 && head.AsSpan(1, 5).SequenceEqual("NUMPY"u8)) return NpyProbeSet.Open(path);
        if (got >= 4 && head.AsSpan(0, 4).SequenceEqual("PK\x03\x04"u8)) return ImageProbeSet.OpenZip(path, target, limits);
        switch (FashionMnist.PeekMagic(path))
        {
            case FashionMnist.ImagesMagic:
                return FashionMnist.OpenProbeSet(path, target, limits);
            case FashionMnist.LabelsMagic:
                throw new EquivarianceLabException($"{Path.GetFileName(path)} is an IDX labels file; pass the images file (…-images-idx3-ubyte[.gz]) as the probe set.");
        }
        throw new EquivarianceLabException($"Unknown probe set format: {Path.GetFileName(path)}. Expected {Formats}.");
    }

    /// <summary>
    /// Reads the whole set once, in pieces (memory stays flat), and throws for the first image holding a NaN or ±Inf:
    /// "image 17 contains NaN or infinite values; probe images must be finite". For validating a set before it is
    /// accepted (an upload); a measurement needs no separate pass, since it checks every batch it reads. PNG/JPEG
    /// and IDX sets hold bytes, and their preprocessing is checked to map every byte to a finite value, so nothing
    /// is read for them.
    /// </summary>
    public static void CheckFinite(IProbeSet probe, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(probe);
        switch (probe)
        {
            case ImageProbeSet or IdxProbeSet:
                return;
            case NpyProbeSet npy:
                npy.CheckFinite(cancellationToken);
                return;
        }
        // Any other set: through ReadBatch, about 4 M values at a time.
        long perImage = Math.Max(1, probe.ImageShape.Aggregate(1L, (a, d) => a * Math.Max(1, d)));
        int batch = (int)Math.Clamp((4L << 20) / perImage, 1, Math.Max(1, probe.Count));
        for (int start = 0; start < probe.Count; start += batch)
        {
            cancellationToken.ThrowIfCancellationRequested();
            int count = Math.Min(batch, probe.Count - start);
            using var images = probe.ReadBatch(start, count);
            FiniteValues.Check(images, start, probe.Name);
        }
    }

    /// <summary>
    /// Throws when the probe's <c>[C, H, W]</c> disagrees with the model's fixed input dimensions. The model shape is
    /// <c>[C, H, W]</c> or <c>[N, C, H, W]</c> (the batch dimension is ignored); -1 (or any negative) is a free dimension.
    /// </summary>
    public static void CheckFits(IProbeSet probe, IReadOnlyList<long> modelInputShape, string? modelName = null)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(modelInputShape);
        var model = modelName ?? "the model";
        var dims = modelInputShape.Count switch
        {
            3 => modelInputShape.ToArray(),
            4 => modelInputShape.Skip(1).ToArray(),
            _ => throw new EquivarianceLabException(
                $"{char.ToUpperInvariant(model[0])}{model[1..]} has input shape {ProbeTensors.FormatShape(modelInputShape)}; an image model takes [N,C,H,W]."),
        };
        var image = probe.ImageShape;
        bool fits = image.Count == 3 && Enumerable.Range(0, 3).All(i => dims[i] < 0 || dims[i] == image[i]);
        if (!fits)
        {
            var expected = "[" + string.Join(",", dims.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";
            throw new EquivarianceLabException($"Probe images are {ProbeTensors.FormatShape(image)} but {model} expects {expected}.");
        }
    }
}
