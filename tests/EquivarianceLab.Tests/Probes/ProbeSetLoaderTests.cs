using System.IO.Compression;
using EquivarianceLab.Probes;
using SkiaSharp;
using static EquivarianceLab.Tests.Probes.ProbeTestFiles;

namespace EquivarianceLab.Tests.Probes;

public class ProbeSetLoaderTests
{
    [Fact]
    public void DispatchesOnExtensionFolderAndContent()
    {
        using var dir = new TempFolder();
        NpyWriter.Write(dir.File("a.npy"), new float[2 * 3 * 4 * 4], [2, 3, 4, 4]);
        File.Copy(dir.File("a.npy"), dir.File("renamed.bin"));
        var images = Directory.CreateDirectory(dir.File("images")).FullName;
        File.WriteAllBytes(Path.Combine(images, "x.png"), Solid(5, 5, SKColors.Red));
        ZipFile.CreateFromDirectory(images, dir.File("images.zip"));
        FashionMnist.WriteImages(dir.File("f-images-idx3-ubyte.gz"), new IdxImages(4, 28, 28, new byte[4 * 784]));
        FashionMnist.WriteImages(dir.File("plain-images"), new IdxImages(3, 28, 28, new byte[3 * 784]));

        using (var p = ProbeSetLoader.Open(dir.File("a.npy"))) Assert.IsType<NpyProbeSet>(p);
        using (var p = ProbeSetLoader.Open(dir.File("renamed.bin"))) Assert.IsType<NpyProbeSet>(p);
        using (var p = ProbeSetLoader.Open(images)) Assert.Equal([3L, 5, 5], p.ImageShape);
        using (var p = ProbeSetLoader.Open(dir.File("images.zip"), new ProbeTarget(3, 4, 4, Preprocessing.ImageNet)))
            Assert.Equal([3L, 4, 4], p.ImageShape);
        using (var p = ProbeSetLoader.Open(dir.File("f-images-idx3-ubyte.gz"))) Assert.Equal(4, p.Count);
        using (var p = ProbeSetLoader.Open(dir.File("plain-images"))) Assert.Equal(3, p.Count);
    }

    [Fact]
    public void MissingUnknownAndLabelsAreClearErrors()
    {
        using var dir = new TempFolder();
        Assert.Contains("does not exist", Fails(() => ProbeSetLoader.Open(dir.File("nope.npy"))).Message);
        File.WriteAllText(dir.File("notes.txt"), "hello");
        var e = Fails(() => ProbeSetLoader.Open(dir.File("notes.txt")));
        Assert.Contains("Unknown probe set format: notes.txt", e.Message);
        FashionMnist.WriteLabels(dir.File("t-labels-idx1-ubyte.gz"), [1, 2, 3]);
        Assert.Contains("labels file", Fails(() => ProbeSetLoader.Open(dir.File("t-labels-idx1-ubyte.gz"))).Message);
        Assert.Contains("No probe set", Fails(() => ProbeSetLoader.Open("")).Message);
    }

    [Fact]
    public void CheckFitsComparesFixedDimensions()
    {
        using var dir = new TempFolder();
        NpyWriter.Write(dir.File("p.npy"), new float[2 * 784], [2, 1, 28, 28]);
        using var probe = ProbeSetLoader.Open(dir.File("p.npy"));
        ProbeSetLoader.CheckFits(probe, [1, 1, 28, 28]);
        ProbeSetLoader.CheckFits(probe, [-1, 1, -1, -1]);
        ProbeSetLoader.CheckFits(probe, [1, 28, 28]);
        var e = Fails(() => ProbeSetLoader.CheckFits(probe, [1, 3, 224, 224], "model.onnx"));
        Assert.Equal("Probe images are [1,28,28] but model.onnx expects [3,224,224].", e.Message);
        Assert.Contains("[3,?,?]", Fails(() => ProbeSetLoader.CheckFits(probe, [-1, 3, -1, -1])).Message);
        Assert.Contains("[N,C,H,W]", Fails(() => ProbeSetLoader.CheckFits(probe, [1, 784], "mlp.onnx")).Message);
    }
}
