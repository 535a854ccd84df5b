using System.Diagnostics;
using System.IO.Compression;
using EquivarianceLab.Probes;
using SkiaSharp;
using static EquivarianceLab.Tests.Probes.ProbeTestFiles;

namespace EquivarianceLab.Tests.Probes;

/// <summary>
/// Pixel limits checked from headers before anything is decoded: per image, per set (a tile bomb of many small files
/// declaring huge images), the model input size, and IDX headers against the file they sit in.
/// </summary>
public class ProbeLimitsTests
{
    [Fact]
    public void The_defaults_are_4096_squared_per_image_and_a_billion_per_set()
    {
        Assert.Equal(16_777_216, ProbeLimits.Default.MaxImagePixels);
        Assert.Equal(1_000_000_000, ProbeLimits.Default.MaxTotalPixels);
        Assert.Equal(100_000, ProbeLimits.Default.MaxEntries);
    }

    [Fact]
    public void The_hand_built_black_png_is_a_real_image()
    {
        using var dir = new TempFolder();
        File.WriteAllBytes(dir.File("black.png"), HostileFiles.BlackPng(16, 8));
        using var probe = ImageProbeSet.OpenFolder(dir.Path);
        Assert.Equal([3L, 8, 16], probe.ImageShape);
        using var batch = probe.ReadBatch(0, 1);
        Assert.All(Floats(batch), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void A_tile_bomb_zip_is_refused_from_the_first_header_before_any_decoding()
    {
        using var dir = new TempFolder();
        var zip = dir.File("tiles.zip");
        HostileFiles.ZipOfCopies(zip, HostileFiles.BlackPng(10_000, 10_000), 1000);
        Assert.True(new FileInfo(zip).Length < 1 << 20, $"the bomb is {new FileInfo(zip).Length} bytes");

        var clock = Stopwatch.StartNew();
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        var e = Fails(() => ImageProbeSet.OpenZip(zip));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
        Assert.True(GC.GetTotalAllocatedBytes(precise: true) - allocated < 200 << 20, "opening allocated more than 200 MB");
        Assert.Equal("'0000.png' in tiles.zip is 10000×10000 pixels, over the limit of 16777216 pixels per image.", e.Message);
    }

    [Fact]
    public void Tiles_each_under_the_image_limit_are_refused_by_the_set_limit()
    {
        using var dir = new TempFolder();
        var zip = dir.File("tiles.zip");
        HostileFiles.ZipOfCopies(zip, HostileFiles.BlackPng(10_000, 10_000), 1000);
        // The old per-image default (100 M pixels) let each tile through: 1000 of them decode to 400 GB of RGBA.
        var oldImageLimit = new ProbeLimits { MaxImagePixels = 100_000_000 };

        var clock = Stopwatch.StartNew();
        var e = Fails(() => ImageProbeSet.OpenZip(zip, limits: oldImageLimit));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
        Assert.Equal("Probe set tiles.zip declares more than 1000000000 pixels in all (the limit for a whole set) by '0010.png' in tiles.zip, " +
                     "image 11 of 1000; refusing a possible tile bomb.", e.Message);

        // Under both limits the same images open (and would decode, one batch at a time).
        using var ok = ImageProbeSet.OpenZip(zip, limits: oldImageLimit with { MaxTotalPixels = 100_000_000_000 });
        Assert.Equal(1000, ok.Count);
    }

    [Fact]
    public void A_folder_is_limited_the_same_way_and_named_without_its_server_path()
    {
        using var dir = new TempFolder();
        var folder = Directory.CreateDirectory(dir.File("upload")).FullName;
        File.WriteAllBytes(Path.Combine(folder, "a.png"), Solid(30, 20, SKColors.Red));
        File.WriteAllBytes(Path.Combine(folder, "b.png"), Solid(30, 20, SKColors.Red));
        var e = Fails(() => ImageProbeSet.OpenFolder(folder, limits: new ProbeLimits { MaxImagePixels = 599 }));
        Assert.Equal("'a.png' in upload is 30×20 pixels, over the limit of 599 pixels per image.", e.Message);
        e = Fails(() => ImageProbeSet.OpenFolder(folder, limits: new ProbeLimits { MaxTotalPixels = 1000 }));
        Assert.Contains("by 'b.png' in upload, image 2 of 2", e.Message);
        Assert.DoesNotContain(dir.Path, e.Message);
        using var ok = ImageProbeSet.OpenFolder(folder, limits: new ProbeLimits { MaxImagePixels = 600, MaxTotalPixels = 1200 });
    }

    [Fact]
    public void A_model_input_over_the_image_limit_is_refused_before_decoding()
    {
        using var dir = new TempFolder();
        File.WriteAllBytes(dir.File("a.png"), Solid(4, 4, SKColors.Red));
        var e = Fails(() => ImageProbeSet.OpenFolder(dir.Path, new ProbeTarget(3, 5000, 5000, new Preprocessing())));
        Assert.Equal("The model's input size 5000×5000 is over the limit of 16777216 pixels per image.", e.Message);
    }

    [Fact]
    public void Hostile_entry_names_are_quoted_safely()
    {
        using var dir = new TempFolder();
        var zip = dir.File("names.zip");
        using (var archive = ZipFile.Open(zip, ZipArchiveMode.Create))
        using (var s = archive.CreateEntry("evil\nFAKE LOG LINE\u202E.png").Open())
            s.Write("not an image"u8);
        var e = Fails(() => ImageProbeSet.OpenZip(zip));
        Assert.Equal("'evil?FAKE LOG LINE?.png' in names.zip is not a PNG or JPEG image.", e.Message);
    }

    [Fact]
    public void An_idx_header_is_checked_against_the_limits_and_the_file_before_allocating()
    {
        using var dir = new TempFolder();
        var plain = dir.File("images-idx3-ubyte");
        // 16 bytes claiming 2 G pixels: refused without allocating them.
        HostileFiles.Idx(plain, 20_000, 316, 316, 0);
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var e = Fails(() => ProbeSetLoader.Open(plain));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 1 << 20, "opening allocated more than 1 MiB");
        Assert.Equal("images-idx3-ubyte declares 1997120000 pixels in all, over the limit of 1000000000 for a whole set.", e.Message);

        HostileFiles.Idx(plain, 1000, 28, 28, 0);
        Assert.Equal("images-idx3-ubyte is truncated: 1000 images of 28×28 need 784016 bytes but the file holds 16.", Fails(() => ProbeSetLoader.Open(plain)).Message);
        HostileFiles.Idx(plain, 2, 5000, 5000, 0);
        Assert.Contains("5000×5000 pixels, over the limit of 16777216 pixels per image", Fails(() => ProbeSetLoader.Open(plain)).Message);
        HostileFiles.Idx(plain, 11, 2, 2, 44);
        Assert.Equal("images-idx3-ubyte holds 11 images; the limit is 10.", Fails(() => ProbeSetLoader.Open(plain, limits: new ProbeLimits { MaxEntries = 10 })).Message);
        using (var ok = ProbeSetLoader.Open(plain)) Assert.Equal(11, ok.Count);
    }

    [Fact]
    public void A_gzip_bomb_idx_is_refused_by_its_compression_ratio()
    {
        using var dir = new TempFolder();
        var gz = dir.File("bomb-images-idx3-ubyte.gz");
        HostileFiles.Idx(gz, 100_000, 28, 28, 78_400_000); // 78 MB of zeros deflate ≈ 1000:1
        var e = Fails(() => ProbeSetLoader.Open(gz, limits: new ProbeLimits { MaxCompressionRatio = 100 }));
        Assert.StartsWith("bomb-images-idx3-ubyte.gz declares 78400000 bytes of pixels from ", e.Message);
        Assert.EndsWith("a ratio over 100:1; refusing a possible gzip bomb.", e.Message);
    }
}
