using System.Text;
using EquivarianceLab.Probes;
using static EquivarianceLab.Tests.Probes.ProbeTestFiles;

namespace EquivarianceLab.Tests.Probes;

public class NpyProbeSetTests
{
    private static float[] Sequence(int n) => Enumerable.Range(0, n).Select(i => i * 0.25f - 3f).ToArray();

    private static void WriteRaw(string path, int major, string dict, ReadOnlySpan<float> data, int dataBytes = -1) =>
        NpyTestFiles.WriteRaw(path, major, dict, data, dataBytes);

    [Fact]
    public void WriterRoundTripKeepsEveryBit()
    {
        using var dir = new TempFolder();
        var path = dir.File("probe.npy");
        var data = Sequence(5 * 2 * 3 * 4);
        data[0] = -0.0f;
        data[1] = float.Epsilon;
        data[2] = float.MaxValue;
        data[3] = float.MinValue; // NaN and ±Inf are refused (NonFiniteProbeTests)
        data[4] = 1.1754942e-38f; // subnormal
        NpyWriter.Write(path, data, [5, 2, 3, 4]);

        using var probe = NpyProbeSet.Open(path);
        Assert.Equal("probe.npy", probe.Name);
        Assert.Equal(5, probe.Count);
        Assert.Equal([2L, 3, 4], probe.ImageShape);
        using var all = probe.ReadBatch(0, 5);
        Assert.Equal([5L, 2, 3, 4], all.shape);
        Assert.Equal(TorchSharp.torch.ScalarType.Float32, all.dtype);
        var read = Floats(all);
        Assert.Equal(data.Select(BitConverter.SingleToInt32Bits), read.Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void WriterHeaderIsNumpys()
    {
        using var dir = new TempFolder();
        var path = dir.File("h.npy");
        NpyWriter.Write(path, Sequence(8), [2, 1, 2, 2]);
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(1, bytes[6]);
        int headerLen = BitConverter.ToUInt16(bytes, 8);
        Assert.Equal(0, (10 + headerLen) % 64);
        var header = Encoding.Latin1.GetString(bytes, 10, headerLen);
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2, 2), }", header);
        Assert.EndsWith("\n", header);
        Assert.Equal(10 + headerLen + 8 * 4, bytes.Length);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void HandwrittenHeadersOfEachVersionAreRead(int major)
    {
        using var dir = new TempFolder();
        var path = dir.File($"v{major}.npy");
        var data = Sequence(3 * 1 * 2 * 2);
        // Older numpy wrote no trailing comma after the shape and Python 2 wrote long suffixes; both must parse.
        var dict = major switch
        {
            1 => "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 1, 2, 2), }",
            2 => "{'descr':'<f4','fortran_order':False,'shape':(3L, 1L, 2L, 2L)}",
            _ => "{'shape': (3, 1, 2, 2), 'fortran_order': False, 'descr': '<f4', 'note': 'é'}",
        };
        WriteRaw(path, major, dict, data);
        using var probe = NpyProbeSet.Open(path);
        Assert.Equal(3, probe.Count);
        Assert.Equal([1L, 2, 2], probe.ImageShape);
        using var t = probe.ReadBatch(0, 3);
        Assert.Equal(data, Floats(t));
    }

    [Fact]
    public void BatchesReadTheRightSlices()
    {
        using var dir = new TempFolder();
        var path = dir.File("b.npy");
        const int n = 7, image = 3 * 5 * 2;
        var data = Sequence(n * image);
        NpyWriter.Write(path, data, [n, 3, 5, 2]);
        using var probe = NpyProbeSet.Open(path);
        foreach (var (start, count) in new[] { (0, 1), (1, 3), (4, 3), (6, 1), (0, 7), (3, 0) })
        {
            using var t = probe.ReadBatch(start, count);
            Assert.Equal([count, 3L, 5, 2], t.shape);
            Assert.Equal(data.AsSpan(start * image, count * image).ToArray(), Floats(t));
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => probe.ReadBatch(5, 3));
    }

    [Fact]
    public void AHugeFileIsReadByBatchesOnly()
    {
        using var dir = new TempFolder();
        var path = dir.File("huge.npy");
        // 20 000 × 3 × 224 × 224 float32 is 12 GB: a sparse file, so only reading by batches can work.
        WriteRaw(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (20000, 3, 224, 224), }", []);
        long image = 3L * 224 * 224 * 4;
        using (var s = new FileStream(path, FileMode.Open))
        {
            long dataStart = s.Length;
            s.SetLength(dataStart + 20000 * image);
            s.Position = dataStart + 19999 * image;
            s.Write(BitConverter.GetBytes(42.5f));
        }
        using var probe = NpyProbeSet.Open(path);
        Assert.Equal(20000, probe.Count);
        using var t = probe.ReadBatch(19998, 2);
        var v = Floats(t);
        Assert.Equal(0f, v[0]);
        Assert.Equal(42.5f, v[3 * 224 * 224]);
    }

    [Fact]
    public void NotAnNpyFile()
    {
        using var dir = new TempFolder();
        var path = dir.File("text.npy");
        File.WriteAllText(path, "hello, I am not an array");
        var e = Fails(() => NpyProbeSet.Open(path));
        Assert.Contains("text.npy", e.Message);
        Assert.Contains("not a .npy file", e.Message);
    }

    [Fact]
    public void WrongDtypeIsNamedWithTheFix()
    {
        using var dir = new TempFolder();
        var path = dir.File("double.npy");
        WriteRaw(path, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1, 2, 2), }", new float[8]);
        var e = Fails(() => NpyProbeSet.Open(path));
        Assert.Contains("double.npy", e.Message);
        Assert.Contains("float64", e.Message);
        Assert.Contains("x.astype(np.float32)", e.Message);

        WriteRaw(path, 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 1, 2, 2), }", new float[1]);
        Assert.Contains("uint8", Fails(() => NpyProbeSet.Open(path)).Message);
        WriteRaw(path, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 1, 2, 2), }", new float[4]);
        Assert.Contains("big-endian float32", Fails(() => NpyProbeSet.Open(path)).Message);
    }

    [Fact]
    public void WrongRankGivesTheShape()
    {
        using var dir = new TempFolder();
        var path = dir.File("rank3.npy");
        NpyWriter.Write(path, Sequence(24), [2, 3, 4]);
        var e = Fails(() => NpyProbeSet.Open(path));
        Assert.Contains("rank3.npy", e.Message);
        Assert.Contains("(2, 3, 4)", e.Message);
        Assert.Contains("rank-4", e.Message);
    }

    [Fact]
    public void FortranOrderIsRefused()
    {
        using var dir = new TempFolder();
        var path = dir.File("fortran.npy");
        WriteRaw(path, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1, 2, 2), }", new float[4]);
        var e = Fails(() => NpyProbeSet.Open(path));
        Assert.Contains("fortran.npy", e.Message);
        Assert.Contains("Fortran order", e.Message);
    }

    [Fact]
    public void TruncatedDataIsRefused()
    {
        using var dir = new TempFolder();
        var path = dir.File("short.npy");
        WriteRaw(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2, 2), }", new float[8], dataBytes: 30);
        var e = Fails(() => NpyProbeSet.Open(path));
        Assert.Contains("short.npy", e.Message);
        Assert.Contains("truncated", e.Message);
        Assert.Contains("32 bytes", e.Message);

        File.WriteAllBytes(path, File.ReadAllBytes(path)[..40]); // cut inside the header
        Assert.Contains("short.npy", Fails(() => NpyProbeSet.Open(path)).Message);
    }

    [Fact]
    public void EmptyArrayIsRefused()
    {
        using var dir = new TempFolder();
        var path = dir.File("empty.npy");
        NpyWriter.Write(path, [], [0, 3, 8, 8]);
        Assert.Contains("no images", Fails(() => NpyProbeSet.Open(path)).Message);
    }
}
