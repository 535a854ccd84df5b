using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;
using EquivarianceLab.Tests.Measure;
using static EquivarianceLab.Tests.Probes.NpyTestFiles;
using static EquivarianceLab.Tests.Probes.ProbeTestFiles;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Probes;

/// <summary>Probe sets holding NaN or ±Inf are refused, naming the first bad image, instead of silently giving null scores.</summary>
public class NonFiniteProbeTests
{
    private const string Image3 = "bad.npy: image 3 contains NaN or infinite values; probe images must be finite.";

    /// <summary>Eight 1×4×4 images, NaN in image 3 and +Inf in image 5.</summary>
    private static string WriteBadSet(TempFolder dir)
    {
        var data = Enumerable.Range(0, 8 * 16).Select(i => (i % 7) * 0.5f).ToArray();
        data[3 * 16 + 9] = float.NaN;
        data[5 * 16] = float.PositiveInfinity;
        var path = dir.File("bad.npy");
        NpyWriter.Write(path, data, [8, 1, 4, 4]);
        return path;
    }

    [Fact]
    public void Validating_an_npy_set_names_the_first_bad_image()
    {
        using var dir = new TempFolder();
        using var probe = ProbeSetLoader.Open(WriteBadSet(dir));
        Assert.Equal(Image3, Fails(() => ProbeSetLoader.CheckFinite(probe)).Message);
    }

    [Fact]
    public void Every_batch_read_is_checked_and_names_the_image_by_its_index_in_the_set()
    {
        using var dir = new TempFolder();
        using var probe = NpyProbeSet.Open(WriteBadSet(dir));
        using (var clean = probe.ReadBatch(0, 3)) Assert.Equal(3, clean.shape[0]);
        Assert.Equal(Image3, Fails(() => probe.ReadBatch(0, 8)).Message);
        Assert.Contains("image 5 contains NaN or infinite values", Fails(() => probe.ReadBatch(4, 4)).Message);
        Assert.Contains("image 5 ", Fails(() => probe.ReadBatch(5, 1)).Message);
    }

    [Fact]
    public void Negative_infinity_counts_too_and_finite_extremes_do_not()
    {
        using var dir = new TempFolder();
        var path = dir.File("edges.npy");
        NpyWriter.Write(path, [float.MaxValue, float.MinValue, float.Epsilon, -0f, 1, 2, 3, float.NegativeInfinity], [8, 1, 1, 1]);
        using var probe = NpyProbeSet.Open(path);
        Assert.Equal("edges.npy: image 7 contains NaN or infinite values; probe images must be finite.", Fails(() => ProbeSetLoader.CheckFinite(probe)).Message);
        using var finite = probe.ReadBatch(0, 7);
    }

    [Fact]
    public void The_measure_refuses_a_bad_batch_instead_of_scoring_it_null()
    {
        using var dir = new TempFolder();
        using var probe = NpyProbeSet.Open(WriteBadSet(dir));
        using var model = new TorchFeatureModel("circular", new CircularNet(seed: 8), [1, -1, -1]);
        var e = Fails(() => EquivarianceMeasure.Run(model, probe, new MeasureOptions { Transform = TransformFamily.Flip, BatchSize = 4 }));
        Assert.Equal(Image3, e.Message);
    }

    [Fact]
    public void An_in_memory_set_is_checked_when_it_is_made()
    {
        var data = new float[6 * 4];
        data[2 * 4 + 1] = float.NaN;
        var e = Fails(() => new TensorProbeSet("generated", tensor(data, [6, 1, 2, 2])));
        Assert.Equal("generated: image 2 contains NaN or infinite values; probe images must be finite.", e.Message);
    }

    [Fact]
    public void Validation_reads_a_large_file_in_pieces_with_flat_memory()
    {
        using var dir = new TempFolder();
        var path = dir.File("large.npy");
        // 500 images of 3×224×224 (300 MB, sparse: zeros) with one NaN in the last image.
        const long images = 500, perImage = 3 * 224 * 224;
        WriteRaw(path, 1, Dict($"({images}, 3, 224, 224)"), []);
        using (var s = new FileStream(path, FileMode.Open))
        {
            long dataStart = s.Length;
            s.SetLength(dataStart + images * perImage * 4);
            s.Position = dataStart + ((images - 1) * perImage + 12345) * 4;
            s.Write(BitConverter.GetBytes(float.NaN));
        }
        using var probe = ProbeSetLoader.Open(path);
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var e = Fails(() => ProbeSetLoader.CheckFinite(probe));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 4 << 20, "validation allocated more than 4 MiB");
        Assert.Equal("large.npy: image 499 contains NaN or infinite values; probe images must be finite.", e.Message);
    }

    [Fact]
    public void Image_and_idx_sets_hold_bytes_and_a_card_cannot_map_them_outside_float32()
    {
        using var dir = new TempFolder();
        File.WriteAllBytes(dir.File("a.png"), Solid(2, 2, new SkiaSharp.SKColor(1, 2, 3)));
        using (var probe = ImageProbeSet.OpenFolder(dir.Path)) ProbeSetLoader.CheckFinite(probe);

        var huge = new Preprocessing { Scale = 1e300 };
        var e = Fails(() => ImageProbeSet.OpenFolder(dir.Path, new ProbeTarget(3, 2, 2, huge)));
        Assert.Contains("maps pixels outside the float32 range in channel 0", e.Message);
        var tiny = new Preprocessing { Std = [1, 1e-300, 1] };
        Assert.Contains("channel 1", Fails(() => ImageProbeSet.OpenFolder(dir.Path, new ProbeTarget(3, 2, 2, tiny))).Message);
    }
}
