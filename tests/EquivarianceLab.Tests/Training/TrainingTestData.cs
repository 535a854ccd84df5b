using EquivarianceLab.Probes;

namespace EquivarianceLab.Tests.Training;

/// <summary>The Fashion-MNIST test set shipped in models/data, loaded once for the training tests.</summary>
internal static class TrainingTestData
{
    private static readonly Lazy<(IdxImages Images, byte[] Labels)> Shipped = new(() =>
    {
        var dir = Path.Combine(RepositoryRoot(), "models", "data", "fashion-mnist");
        return (FashionMnist.LoadImages(Path.Combine(dir, "t10k-images-idx3-ubyte.gz")), FashionMnist.LoadLabels(Path.Combine(dir, "t10k-labels-idx1-ubyte.gz")));
    });

    public static IdxImages Images => Shipped.Value.Images;
    public static byte[] Labels => Shipped.Value.Labels;

    /// <summary>
    /// Writes a stand-in training split into <paramref name="folder"/> — the first <paramref name="count"/> images of
    /// the shipped test set, as <c>train-*</c> IDX files — so training tests need nothing outside the repository (the
    /// real split comes with Debian's dataset-fashion-mnist). Returns the folder, for <c>--data-folder</c> /
    /// <see cref="EquivarianceLab.Training.TrainRequest.DataFolder"/>.
    /// </summary>
    public static string WriteStandInTrainingSplit(string folder, int count) => WriteSplit(folder, "train", 0, count);

    /// <summary>
    /// Writes a small stand-in test split (<c>t10k-*</c>) into <paramref name="folder"/> — the last
    /// <paramref name="count"/> images of the shipped test set, so none of a stand-in training split's — for tests
    /// whose subject is not the accuracy itself: the training data folder is searched before the repository's copy,
    /// so the card's accuracy is then measured on these instead of on 10,000 images.
    /// </summary>
    public static string WriteStandInTestSplit(string folder, int count) => WriteSplit(folder, "t10k", Images.Count - count, count);

    private static string WriteSplit(string folder, string prefix, int from, int count)
    {
        Directory.CreateDirectory(folder);
        var size = Images.Height * Images.Width;
        FashionMnist.WriteImages(Path.Combine(folder, $"{prefix}-images-idx3-ubyte.gz"),
            Images with { Count = count, Pixels = Images.Pixels[(from * size)..((from + count) * size)] });
        FashionMnist.WriteLabels(Path.Combine(folder, $"{prefix}-labels-idx1-ubyte.gz"), Labels[from..(from + count)]);
        return folder;
    }

    public static string RepositoryRoot() =>
        FeatureModels.RepositoryPaths.Root ?? throw new InvalidOperationException("The repository root was not found above " + AppContext.BaseDirectory);
}

public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("eqlab-training-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

internal static class TensorAssertions
{
    /// <summary>Same shape and every element equal.</summary>
    public static bool Same(this TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
}
