using EquivarianceLab.Probes;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Training;

/// <summary>The Fashion-MNIST training tasks (paper §4.3 adapted to Fashion-MNIST; docs/training.md).</summary>
public enum DataVariant
{
    /// <summary>All ten classes.</summary>
    Fmnist,
    /// <summary>Six classes: without the four classes most like 90°-rotations of themselves or of each other.</summary>
    Fmnist6,
    /// <summary>FMNIST-6 with every image rotated by a fixed random multiple of 90°; same label (an invariant task).</summary>
    Fmnist6RotInv,
    /// <summary>FMNIST-6 rotated as in Rot-Inv; label = class × 4 + rotation (24 classes, an equivariant task).</summary>
    Fmnist6RotEq,
}

/// <summary>Images as bytes [N, 1, 28, 28] (pixel values 0–255) with int64 labels [N].</summary>
public sealed class LabeledImages : IDisposable
{
    public LabeledImages(string name, Tensor images, Tensor labels, int classes)
    {
        if (images.dim() != 4 || labels.dim() != 1 || images.shape[0] != labels.shape[0])
            throw new ArgumentException($"Images [{string.Join(", ", images.shape)}] and labels [{string.Join(", ", labels.shape)}] do not match.");
        Name = name;
        Images = images;
        Labels = labels;
        Classes = classes;
    }

    /// <summary>The data set's name, e.g. <c>fmnist6-rot-inv/test</c> (what a card's <c>accuracyDataset</c> says).</summary>
    public string Name { get; }
    /// <summary>uint8 [N, 1, H, W], pixel values 0–255.</summary>
    public Tensor Images { get; }
    /// <summary>int64 [N].</summary>
    public Tensor Labels { get; }
    public int Classes { get; }
    public int Count => (int)Labels.shape[0];

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}

public static class TrainingData
{
    /// <summary>
    /// The classes FMNIST-6 drops: T-shirt/top, Dress, Shirt and Bag (0, 3, 6, 8). Chosen by <see cref="RotationSimilarity"/>
    /// on the training set; the numbers are in docs/training.md.
    /// </summary>
    public static IReadOnlyList<int> DroppedClasses { get; } = [0, 3, 6, 8];

    /// <summary>The kept classes in order; FMNIST-6 label i is Fashion-MNIST class <c>KeptClasses[i]</c>.</summary>
    public static IReadOnlyList<int> KeptClasses { get; } = [.. Enumerable.Range(0, 10).Where(c => !DroppedClasses.Contains(c))];

    /// <summary>Fashion-MNIST's mean and standard deviation of pixel/255 over the training set; the models' input normalisation.</summary>
    public const double Mean = 0.2860;
    public const double Std = 0.3530;

    /// <summary>The preprocessing a model card records for models trained here: grey, /255, (x − 0.2860) / 0.3530.</summary>
    public static Preprocessing Preprocessing => new() { ChannelOrder = "L", Scale = 1.0 / 255.0, Mean = [Mean], Std = [Std] };

    public static IReadOnlyList<string> VariantNames { get; } = ["fmnist", "fmnist6", "fmnist6-rot-inv", "fmnist6-rot-eq"];

    public static string Name(DataVariant v) => VariantNames[(int)v];

    public static string DisplayName(DataVariant v) => v switch
    {
        DataVariant.Fmnist => "Fashion-MNIST",
        DataVariant.Fmnist6 => "FMNIST-6",
        DataVariant.Fmnist6RotInv => "FMNIST-6-Rot-Inv",
        _ => "FMNIST-6-Rot-Eq",
    };

    public static DataVariant Parse(string name)
    {
        var key = name.Trim().ToLowerInvariant().Replace("_", "-", StringComparison.Ordinal);
        key = key switch { "fashion-mnist" => "fmnist", "fmnist-6" => "fmnist6", _ => key };
        key = key.Replace("fmnist-6", "fmnist6", StringComparison.Ordinal).Replace("rotinv", "rot-inv", StringComparison.Ordinal).Replace("roteq", "rot-eq", StringComparison.Ordinal);
        int i = VariantNames.ToList().IndexOf(key);
        if (i < 0) throw new EquivarianceLabException($"Unknown data set '{name}'; known: {string.Join(", ", VariantNames)}.");
        return (DataVariant)i;
    }

    public static int ClassCount(DataVariant v) => v switch
    {
        DataVariant.Fmnist => 10,
        DataVariant.Fmnist6RotEq => 4 * 6,
        _ => 6,
    };

    /// <summary>The name of a split of a variant, e.g. <c>fmnist6-rot-eq/test</c>; <see cref="ParseSplitName"/> reads it back.</summary>
    public static string SplitName(DataVariant v, FashionMnistSplit split) => $"{Name(v)}/{(split == FashionMnistSplit.Test ? "test" : "train")}";

    public static (DataVariant Variant, FashionMnistSplit Split) ParseSplitName(string name)
    {
        var parts = name.Split('/');
        if (parts.Length != 2 || parts[1] is not ("test" or "train"))
            throw new EquivarianceLabException($"'{name}' is not a data set this project trains on (expected e.g. fmnist6/test; data sets: {string.Join(", ", VariantNames)}).");
        return (Parse(parts[0]), parts[1] == "test" ? FashionMnistSplit.Test : FashionMnistSplit.Train);
    }

    /// <summary>
    /// Loads a split of a variant from the Fashion-MNIST files found in <paramref name="dataFolder"/> (when given), else
    /// where <see cref="FashionMnist.Locate(FashionMnistSplit)"/> looks.
    /// </summary>
    public static LabeledImages Load(DataVariant v, FashionMnistSplit split, int? limit = null, string? dataFolder = null)
    {
        var files = FashionMnist.Locate(split, dataFolder);
        var images = FashionMnist.LoadImages(files.Images);
        var labels = FashionMnist.LoadLabels(files.Labels);
        return Build(v, split, images, labels, limit);
    }

    /// <summary>
    /// Builds a variant from raw IDX data. FMNIST-6 keeps <see cref="KeptClasses"/> (relabelled 0–5). The rotation of
    /// image i (its index in the IDX file) is a fixed function of the split and i, so every model sees the same rotated
    /// data whatever its seed. <paramref name="limit"/> keeps the first images of the variant.
    /// </summary>
    public static LabeledImages Build(DataVariant v, FashionMnistSplit split, IdxImages images, byte[] labels, int? limit = null)
    {
        if (images.Count != labels.Length)
            throw new EquivarianceLabException($"Fashion-MNIST {split}: {images.Count} images but {labels.Length} labels.");
        if (images.Height != images.Width)
            throw new EquivarianceLabException($"Fashion-MNIST images must be square, not {images.Height}×{images.Width}.");
        int side = images.Height, px = side * side;
        var keep = new List<int>();
        for (int i = 0; i < images.Count && (limit is null || keep.Count < limit); i++)
            if (v == DataVariant.Fmnist || KeptClasses.Contains(labels[i])) keep.Add(i);
        var pixels = new byte[keep.Count * px];
        var outLabels = new long[keep.Count];
        var source = new double[px];
        for (int j = 0; j < keep.Count; j++)
        {
            int i = keep[j];
            int cls = v == DataVariant.Fmnist ? labels[i] : KeptClasses.ToList().IndexOf(labels[i]);
            int k = v is DataVariant.Fmnist6RotInv or DataVariant.Fmnist6RotEq ? RotationOf(split, i) : 0;
            var src = images.Pixels.AsSpan(i * px, px);
            var dst = pixels.AsSpan(j * px, px);
            if (k == 0) src.CopyTo(dst);
            else Rot90(src, dst, side, k);
            outLabels[j] = v == DataVariant.Fmnist6RotEq ? cls * 4 + k : cls;
        }
        var imageTensor = torch.tensor(pixels, [keep.Count, 1, side, side], ScalarType.Byte);
        var labelTensor = torch.tensor(outLabels, [keep.Count], ScalarType.Int64);
        return new LabeledImages(SplitName(v, split), imageTensor, labelTensor, ClassCount(v));
    }

    /// <summary>The fixed rotation (k·90°, numpy rot90 direction) of image <paramref name="index"/> of a split in the Rot variants.</summary>
    public static int RotationOf(FashionMnistSplit split, int index)
    {
        ulong z = (ulong)index + (split == FashionMnistSplit.Test ? 0x7E57_0000_0000UL : 0x7EA1_0000_0000UL);
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & 3);
    }

    /// <summary>numpy <c>rot90(img, k)</c>: out[y, x] = in[x, S−1−y] applied k times.</summary>
    private static void Rot90(ReadOnlySpan<byte> src, Span<byte> dst, int side, int k)
    {
        for (int y = 0; y < side; y++)
            for (int x = 0; x < side; x++)
            {
                int sy = y, sx = x;
                for (int t = 0; t < k; t++) (sy, sx) = (sx, side - 1 - sy);
                dst[y * side + x] = src[sy * side + sx];
            }
    }

    /// <summary>Bytes [B, 1, H, W] → normalised float32 model input ((x/255 − mean) / std).</summary>
    public static Tensor Normalize(Tensor pixels01) => pixels01.Minus(Mean).Over(Std);

    /// <summary>uint8 pixels → float32 in [0, 1].</summary>
    public static Tensor ToUnit(Tensor bytes) => bytes.to_type(ScalarType.Float32).Over(255.0);
}
