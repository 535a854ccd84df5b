using System.IO.Compression;
using EquivarianceLab.Probes;
using SkiaSharp;
using static EquivarianceLab.Tests.Probes.ProbeTestFiles;

namespace EquivarianceLab.Tests.Probes;

public class ImageProbeSetTests
{
    private static readonly SKColor Red = new(200, 10, 20), Green = new(30, 180, 60), Blue = new(5, 40, 250);

    private static void Zip(string path, params (string Name, byte[] Data)[] entries)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, data) in entries)
        {
            using var s = zip.CreateEntry(name, CompressionLevel.Optimal).Open();
            s.Write(data);
        }
    }

    /// <summary>(p·scale − mean)/std as the pipeline computes it, in double then float.</summary>
    private static float Norm(byte p, double mean = 0, double std = 1, double scale = 1.0 / 255.0) => (float)((p * scale - mean) / std);

    private static float[] Plane(float value, int n) => Enumerable.Repeat(value, n).ToArray();

    [Fact]
    public void FolderWithoutTargetIsRgbInUnitRangeInOrdinalOrder()
    {
        using var dir = new TempFolder();
        File.WriteAllBytes(dir.File("b.png"), Solid(4, 3, Red));
        File.WriteAllBytes(dir.File("B.png"), Solid(4, 3, Blue)); // 'B' < 'b' ordinally
        Directory.CreateDirectory(dir.File("sub"));
        File.WriteAllBytes(Path.Combine(dir.File("sub"), "a.png"), Solid(4, 3, Green));
        File.WriteAllBytes(dir.File(".DS_Store"), [0, 1, 2]);

        using var probe = ImageProbeSet.OpenFolder(dir.Path);
        Assert.Equal(3, probe.Count);
        Assert.Equal([3L, 3, 4], probe.ImageShape);
        Assert.Equal(["B.png", "b.png", "sub/a.png"], probe.EntryNames);
        using var t = probe.ReadBatch(0, 3);
        Assert.Equal([3L, 3, 3, 4], t.shape);
        var expected = new[] { Blue, Red, Green }
            .SelectMany(c => Plane(Norm(c.Red), 12).Concat(Plane(Norm(c.Green), 12)).Concat(Plane(Norm(c.Blue), 12)))
            .ToArray();
        Assert.Equal(expected, Floats(t));
    }

    [Fact]
    public void ZipWithTargetAppliesBgrAndMeanStdExactly()
    {
        using var dir = new TempFolder();
        var zip = dir.File("probe.zip");
        var pixel = new Func<int, int, SKColor>((x, y) => new SKColor((byte)(10 * x + y), (byte)(100 + x), (byte)(255 - y)));
        Zip(zip, ("img1.png", Image(3, 2, pixel)), ("img0.png", Solid(3, 2, Red)));
        var pre = new Preprocessing { ChannelOrder = "BGR", Mean = [0.1, 0.2, 0.3], Std = [0.5, 0.25, 2] };
        using var probe = ImageProbeSet.OpenZip(zip, new ProbeTarget(3, 2, 3, pre));
        Assert.Equal(2, probe.Count);
        using var t = probe.ReadBatch(1, 1); // img1: ordinal order puts img0 first
        var actual = Floats(t);
        var expected = new List<float>();
        // BGR: channel 0 is blue, normalised with Mean[0]/Std[0].
        foreach (var (c, pick) in new (int, Func<SKColor, byte>)[] { (0, p => p.Blue), (1, p => p.Green), (2, p => p.Red) })
            for (int y = 0; y < 2; y++)
                for (int x = 0; x < 3; x++)
                    expected.Add(Norm(pick(pixel(x, y)), pre.Mean[c], pre.Std[c]));
        Assert.Equal(expected, actual);

        using var rgb = ImageProbeSet.OpenZip(zip, new ProbeTarget(3, 2, 3, Preprocessing.ImageNet));
        using var first = rgb.ReadBatch(0, 1);
        var red = Floats(first);
        Assert.Equal(Norm(Red.Red, 0.485, 0.229), red[0]);
        Assert.Equal(Norm(Red.Green, 0.456, 0.224), red[6]);
        Assert.Equal(Norm(Red.Blue, 0.406, 0.225), red[12]);
    }

    [Fact]
    public void GreyChannelUsesLuma()
    {
        using var dir = new TempFolder();
        File.WriteAllBytes(dir.File("a.png"), Solid(2, 2, new SKColor(10, 20, 30)));
        File.WriteAllBytes(dir.File("b.png"), Solid(2, 2, new SKColor(77, 77, 77)));
        var pre = new Preprocessing { ChannelOrder = "L", Scale = 1, Mean = [0], Std = [1] };
        using var probe = ImageProbeSet.OpenFolder(dir.Path, new ProbeTarget(1, 2, 2, pre));
        Assert.Equal([1L, 2, 2], probe.ImageShape);
        using var t = probe.ReadBatch(0, 2);
        // PIL's convert("L") of (10, 20, 30) is 18 (0.299·10 + 0.587·20 + 0.114·30 = 18.15); a grey pixel stays itself.
        Assert.Equal([18f, 18, 18, 18, 77, 77, 77, 77], Floats(t));
    }

    [Fact]
    public void CropKeepsOnlyTheMiddleOfAWideImage()
    {
        using var dir = new TempFolder();
        // 40×20: left quarter red, right quarter blue, middle half green. Covering 20×20 needs no scaling, and the
        // centre crop keeps columns 10..29: only green.
        File.WriteAllBytes(dir.File("wide.png"), Image(40, 20, (x, _) => x < 10 ? Red : x >= 30 ? Blue : Green));
        File.WriteAllBytes(dir.File("tall.png"), Image(20, 40, (_, y) => y < 10 ? Red : y >= 30 ? Blue : Green));
        using var probe = ImageProbeSet.OpenFolder(dir.Path, new ProbeTarget(3, 20, 20, new Preprocessing()));
        using var t = probe.ReadBatch(0, 2);
        var green = Plane(Norm(Green.Red), 400).Concat(Plane(Norm(Green.Green), 400)).Concat(Plane(Norm(Green.Blue), 400)).ToArray();
        Assert.Equal(green.Concat(green), Floats(t));
    }

    [Fact]
    public void ResizeCoversTheTargetThenCrops()
    {
        using var dir = new TempFolder();
        // 80×40 → shorter side 40 to 20 gives 40×20, then the middle 20 columns: green, with a blended rim at most.
        File.WriteAllBytes(dir.File("big.png"), Image(80, 40, (x, _) => x < 20 ? Red : x >= 60 ? Blue : Green));
        // 10×5 upscaled to cover 20×20: 40×20, a solid colour stays itself.
        File.WriteAllBytes(dir.File("small.png"), Solid(10, 5, Blue));
        using var probe = ImageProbeSet.OpenFolder(dir.Path, new ProbeTarget(3, 20, 20, new Preprocessing { Scale = 1 }));
        using var t = probe.ReadBatch(0, 2);
        var v = Floats(t);
        Assert.Equal(2 * 3 * 400, v.Length);
        for (int y = 0; y < 20; y++)
            for (int x = 2; x < 18; x++)
            {
                Assert.InRange(v[y * 20 + x], Green.Red - 2, Green.Red + 2);
                Assert.InRange(v[400 + y * 20 + x], Green.Green - 2, Green.Green + 2);
                Assert.InRange(v[800 + y * 20 + x], Green.Blue - 2, Green.Blue + 2);
            }
        var small = v.AsSpan(1200);
        for (int i = 0; i < 400; i++)
        {
            Assert.InRange(small[i], Blue.Red - 1, Blue.Red + 1);
            Assert.InRange(small[800 + i], Blue.Blue - 1, Blue.Blue + 1);
        }
    }

    [Fact]
    public void JpegIsDecoded()
    {
        using var dir = new TempFolder();
        File.WriteAllBytes(dir.File("photo.jpg"), Solid(16, 16, new SKColor(120, 60, 200), SKEncodedImageFormat.Jpeg));
        using var probe = ImageProbeSet.OpenFolder(dir.Path, new ProbeTarget(3, 16, 16, new Preprocessing { Scale = 1 }));
        var v = Floats(probe.ReadBatch(0, 1));
        Assert.InRange(v[0], 115, 125);
        Assert.InRange(v[256], 55, 65);
        Assert.InRange(v[512], 195, 205);
    }

    [Fact]
    public void MixedSizesWithoutTargetNameBothFiles()
    {
        using var dir = new TempFolder();
        File.WriteAllBytes(dir.File("a.png"), Solid(8, 8, Red));
        File.WriteAllBytes(dir.File("b.png"), Solid(8, 8, Red));
        File.WriteAllBytes(dir.File("c.png"), Solid(9, 8, Red));
        var e = Fails(() => ImageProbeSet.OpenFolder(dir.Path));
        Assert.Contains("a.png", e.Message);
        Assert.Contains("c.png", e.Message);
        Assert.Contains("9×8", e.Message);
        // With a target, the same folder is fine.
        using var probe = ImageProbeSet.OpenFolder(dir.Path, new ProbeTarget(3, 8, 8, new Preprocessing()));
        Assert.Equal(3, probe.Count);
    }

    [Theory]
    [InlineData("../evil.png")]
    [InlineData("images/../../evil.png")]
    [InlineData("/etc/evil.png")]
    [InlineData("..\\evil.png")]
    [InlineData("a\\..\\..\\evil.png")]
    [InlineData("\\evil.png")]
    [InlineData("C:/evil.png")]
    public void ZipSlipEntriesAreRefused(string name)
    {
        using var dir = new TempFolder();
        var zip = dir.File("slip.zip");
        Zip(zip, ("ok.png", Solid(2, 2, Red)), (name, Solid(2, 2, Red)));
        var e = Fails(() => ImageProbeSet.OpenZip(zip));
        Assert.Contains(name, e.Message);
        Assert.Contains("unsafe", e.Message);
    }

    [Fact]
    public void ZipBombOverTheDeclaredSizeLimitIsRefused()
    {
        using var dir = new TempFolder();
        var zip = dir.File("bomb.zip");
        Zip(zip, ("a.png", new byte[4 << 20]));
        Assert.True(new FileInfo(zip).Length < 64 << 10);
        var e = Fails(() => ImageProbeSet.OpenZip(zip, limits: new ProbeLimits { MaxUncompressedBytes = 1 << 20 }));
        Assert.Contains("bomb.zip", e.Message);
        Assert.Contains("1048576", e.Message);
    }

    [Fact]
    public void ZipBombByCompressionRatioIsRefused()
    {
        using var dir = new TempFolder();
        var zip = dir.File("ratio.zip");
        Zip(zip, ("a.png", new byte[1 << 20]));
        var e = Fails(() => ImageProbeSet.OpenZip(zip, limits: new ProbeLimits { MaxCompressionRatio = 100 }));
        Assert.Contains("'a.png'", e.Message);
        Assert.Contains("compression ratio", e.Message);
    }

    [Fact]
    public void ZipWithALyingSizeHeaderIsCaughtWhileInflating()
    {
        using var dir = new TempFolder();
        var zip = dir.File("liar.zip");
        var noise = new byte[200_000];
        new Random(1).NextBytes(noise);
        Zip(zip, ("a.png", noise));
        // Declare 1000 bytes in both the local and the central header: every declared check passes.
        var bytes = File.ReadAllBytes(zip);
        int patched = 0;
        for (int i = 0; i + 4 <= bytes.Length; i++)
        {
            uint sig = BitConverter.ToUInt32(bytes, i);
            int at = sig == 0x04034b50 ? i + 22 : sig == 0x02014b50 ? i + 24 : -1;
            if (at < 0) continue;
            Assert.Equal(200_000u, BitConverter.ToUInt32(bytes, at));
            BitConverter.GetBytes(1000u).CopyTo(bytes, at);
            patched++;
        }
        Assert.Equal(2, patched);
        File.WriteAllBytes(zip, bytes);
        var e = Fails(() => ImageProbeSet.OpenZip(zip, limits: new ProbeLimits { MaxUncompressedBytes = 100_000 }));
        Assert.Contains("'a.png'", e.Message);
        Assert.Contains("does not match its declared size", e.Message);
    }

    [Fact]
    public void TooManyEntriesAreRefused()
    {
        using var dir = new TempFolder();
        var zip = dir.File("many.zip");
        var png = Solid(1, 1, Red);
        Zip(zip, Enumerable.Range(0, 11).Select(i => ($"{i:D2}.png", png)).ToArray());
        var e = Fails(() => ImageProbeSet.OpenZip(zip, limits: new ProbeLimits { MaxEntries = 10 }));
        Assert.Contains("11 entries", e.Message);
        Assert.Contains("limit is 10", e.Message);
        using var ok = ImageProbeSet.OpenZip(zip, limits: new ProbeLimits { MaxEntries = 11 });
        Assert.Equal(11, ok.Count);
    }

    [Fact]
    public void NonImageEntryIsNamedAndClutterIsSkipped()
    {
        using var dir = new TempFolder();
        var zip = dir.File("mixed.zip");
        Zip(zip, ("imgs/a.png", Solid(2, 2, Red)), ("__MACOSX/imgs/._a.png", [0, 5, 22]), ("imgs/.DS_Store", [1, 2]), ("imgs/", []));
        using (var ok = ImageProbeSet.OpenZip(zip))
            Assert.Equal(["imgs/a.png"], ok.EntryNames);

        var bad = dir.File("bad.zip");
        Zip(bad, ("imgs/a.png", Solid(2, 2, Red)), ("imgs/notes.txt", "just text"u8.ToArray()));
        var e = Fails(() => ImageProbeSet.OpenZip(bad));
        Assert.Contains("'imgs/notes.txt' in bad.zip", e.Message);
        Assert.Contains("not a PNG or JPEG", e.Message);

        var folder = Directory.CreateDirectory(dir.File("folder")).FullName;
        File.WriteAllBytes(Path.Combine(folder, "a.png"), Solid(2, 2, Red));
        File.WriteAllText(Path.Combine(folder, "readme.txt"), "hi");
        Assert.Contains("readme.txt", Fails(() => ImageProbeSet.OpenFolder(folder)).Message);
    }

    [Fact]
    public void ACorruptImageBodyFailsItsBatchWithAClearError()
    {
        using var dir = new TempFolder();
        var png = Image(64, 64, (x, y) => new SKColor((byte)(x * 4), (byte)(y * 4), (byte)(x ^ y)));
        File.WriteAllBytes(dir.File("a.png"), Solid(64, 64, Red));
        File.WriteAllBytes(dir.File("b.png"), png[..(png.Length / 2)]); // the header survives, the pixels do not
        using var probe = ImageProbeSet.OpenFolder(dir.Path);
        using (var first = probe.ReadBatch(0, 1)) Assert.Equal(Norm(Red.Red), Floats(first)[0]);
        var e = Fails(() => probe.ReadBatch(0, 2));
        Assert.Contains("b.png", e.Message);
        Assert.Contains("could not be decoded", e.Message);
    }

    [Fact]
    public void EmptySetsAreRefused()
    {
        using var dir = new TempFolder();
        var zip = dir.File("empty.zip");
        Zip(zip, ("__MACOSX/x", [1]));
        Assert.Contains("no PNG or JPEG", Fails(() => ImageProbeSet.OpenZip(zip)).Message);
        var empty = Directory.CreateDirectory(dir.File("nothing")).FullName;
        Assert.Contains("no PNG or JPEG", Fails(() => ImageProbeSet.OpenFolder(empty)).Message);
    }

    [Fact]
    public void NotAZipIsRefused()
    {
        using var dir = new TempFolder();
        File.WriteAllText(dir.File("fake.zip"), "not a zip at all");
        Assert.Contains("fake.zip", Fails(() => ImageProbeSet.OpenZip(dir.File("fake.zip"))).Message);
    }

    [Fact]
    public void InconsistentPreprocessingIsRefused()
    {
        using var dir = new TempFolder();
        File.WriteAllBytes(dir.File("a.png"), Solid(2, 2, Red));
        Assert.Contains("channel", Fails(() => ImageProbeSet.OpenFolder(dir.Path, new ProbeTarget(1, 2, 2, new Preprocessing()))).Message);
        Assert.Contains("HSV", Fails(() => ImageProbeSet.OpenFolder(dir.Path, new ProbeTarget(3, 2, 2, new Preprocessing { ChannelOrder = "HSV" }))).Message);
        Assert.Contains("std", Fails(() => ImageProbeSet.OpenFolder(dir.Path, new ProbeTarget(3, 2, 2, new Preprocessing { Std = [1, 0, 1] }))).Message);
        Assert.Contains("2 values", Fails(() => ImageProbeSet.OpenFolder(dir.Path, new ProbeTarget(3, 2, 2, new Preprocessing { Mean = [0, 1] }))).Message);
    }
}
