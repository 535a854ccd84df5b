using EquivarianceLab.Probes;
using static EquivarianceLab.Tests.Probes.ProbeTestFiles;

namespace EquivarianceLab.Tests.Probes;

public class FashionMnistTests
{
    private static string Shipped(string name) => Path.Combine(RepositoryRoot(), "models", "data", "fashion-mnist", name);

    [Fact]
    public void ShippedTestSetHasTenThousandImagesAndLabels()
    {
        var images = FashionMnist.LoadImages(Shipped("t10k-images-idx3-ubyte.gz"));
        Assert.Equal(10000, images.Count);
        Assert.Equal(28, images.Height);
        Assert.Equal(28, images.Width);
        Assert.Equal(10000 * 28 * 28, images.Pixels.Length);
        var labels = FashionMnist.LoadLabels(Shipped("t10k-labels-idx1-ubyte.gz"));
        Assert.Equal(10000, labels.Length);
        Assert.All(labels, l => Assert.InRange(l, (byte)0, (byte)9));
        Assert.Equal(10, labels.Distinct().Count());
        Assert.Equal(1000, labels.Count(l => l == 0)); // the test set is balanced
    }

    [Fact]
    public void ShippedTestSetAsAProbeSet()
    {
        var path = Shipped("t10k-images-idx3-ubyte.gz");
        var pixels = FashionMnist.LoadImages(path).Pixels;
        using var probe = ProbeSetLoader.Open(path);
        Assert.Equal(10000, probe.Count);
        Assert.Equal([1L, 28, 28], probe.ImageShape);
        using var t = probe.ReadBatch(9998, 2);
        Assert.Equal([2L, 1, 28, 28], t.shape);
        Assert.Equal(pixels.AsSpan(9998 * 784, 2 * 784).ToArray().Select(p => (float)(p * (1.0 / 255.0))), Floats(t));
    }

    [Fact]
    public void LocateFindsTheShippedTestSet()
    {
        var files = FashionMnist.Locate();
        Assert.Equal(10000, FashionMnist.LoadLabels(files.Labels).Length);
        Assert.EndsWith("t10k-images-idx3-ubyte.gz", files.Images);
    }

    [Fact]
    public void LocateNamesTheDebianPackageWhenMissing()
    {
        using var dir = new TempFolder();
        var e = Fails(() => FashionMnist.Locate(FashionMnistSplit.Train, [dir.Path]));
        Assert.Contains("apt-get install dataset-fashion-mnist", e.Message);
        Assert.Contains("train-images-idx3-ubyte", e.Message);
        Assert.Contains(dir.Path, e.Message);
    }

    [Theory]
    [InlineData("tiny-images-idx3-ubyte")]
    [InlineData("tiny-images-idx3-ubyte.gz")]
    public void TinyIdxRoundTrips(string name)
    {
        using var dir = new TempFolder();
        var pixels = Enumerable.Range(0, 3 * 2 * 4).Select(i => (byte)(i * 10)).ToArray();
        var path = dir.File(name);
        FashionMnist.WriteImages(path, new IdxImages(3, 2, 4, pixels));
        var labelsPath = dir.File(name.Replace("images-idx3", "labels-idx1"));
        FashionMnist.WriteLabels(labelsPath, [7, 0, 9]);

        var images = FashionMnist.LoadImages(path);
        Assert.Equal((3, 2, 4), (images.Count, images.Height, images.Width));
        Assert.Equal(pixels, images.Pixels);
        Assert.Equal([7, 0, 9], FashionMnist.LoadLabels(labelsPath));
        Assert.Equal(name.EndsWith(".gz"), File.ReadAllBytes(path)[0] == 0x1f);

        // Scale, then the target's mean and std.
        var pre = new Preprocessing { ChannelOrder = "L", Mean = [0.2860], Std = [0.3530] };
        using var probe = ProbeSetLoader.Open(path, new ProbeTarget(1, 2, 4, pre));
        using var t = probe.ReadBatch(1, 2);
        Assert.Equal(pixels[8..].Select(p => (float)((p * (1.0 / 255.0) - 0.2860) / 0.3530)), Floats(t));
    }

    [Fact]
    public void ATargetOfAnotherSizeResizesAndThreeChannelsRepeatGrey()
    {
        using var dir = new TempFolder();
        var path = dir.File("c-images-idx3-ubyte");
        FashionMnist.WriteImages(path, new IdxImages(1, 28, 28, Enumerable.Repeat((byte)51, 784).ToArray()));
        using var probe = FashionMnist.OpenProbeSet(path, new ProbeTarget(3, 32, 32, new Preprocessing { Scale = 1 }));
        Assert.Equal([3L, 32, 32], probe.ImageShape);
        Assert.All(Floats(probe.ReadBatch(0, 1)), v => Assert.InRange(v, 50f, 52f));
    }

    [Fact]
    public void WrongMagicTruncationAndSwappedFilesAreClear()
    {
        using var dir = new TempFolder();
        var images = dir.File("x-images-idx3-ubyte");
        var labels = dir.File("x-labels-idx1-ubyte");
        FashionMnist.WriteImages(images, new IdxImages(2, 28, 28, new byte[2 * 784]));
        FashionMnist.WriteLabels(labels, [1, 2]);
        Assert.Contains("labels file", Fails(() => FashionMnist.LoadImages(labels)).Message);
        Assert.Contains("images file", Fails(() => FashionMnist.LoadLabels(images)).Message);

        File.WriteAllBytes(images, File.ReadAllBytes(images)[..1000]);
        var e = Fails(() => FashionMnist.LoadImages(images));
        Assert.Contains("x-images-idx3-ubyte", e.Message);
        Assert.Contains("truncated", e.Message);

        File.WriteAllBytes(images, [0, 0, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        Assert.Contains("expected 2051", Fails(() => FashionMnist.LoadImages(images)).Message);

        File.WriteAllBytes(labels, [0, 0, 8, 1, 0, 0, 0, 5, 1, 2]);
        Assert.Contains("truncated", Fails(() => FashionMnist.LoadLabels(labels)).Message);
    }
}
