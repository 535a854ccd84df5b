using System.IO.Compression;

namespace EquivarianceLab.Web.ProbeSets;

/// <summary>Just enough of the IDX format to register the built-in probe set without the library: header and first images.</summary>
public static class Idx
{
    public static (int Count, int Height, int Width, List<float[]> Samples) ReadImages(string path, int samples)
    {
        using var file = File.OpenRead(path);
        using Stream s = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(file, CompressionMode.Decompress) : file;
        var head = new byte[16];
        s.ReadExactly(head);
        if (head[0] != 0 || head[1] != 0 || head[2] != 0x08 || head[3] != 3)
            throw new InvalidDataException($"{Path.GetFileName(path)} is not an IDX file of unsigned bytes with 3 dimensions.");
        int Int(int o) => (head[o] << 24) | (head[o + 1] << 16) | (head[o + 2] << 8) | head[o + 3];
        int n = Int(4), h = Int(8), w = Int(12);
        var list = new List<float[]>();
        var buf = new byte[h * w];
        for (var i = 0; i < Math.Min(samples, n); i++)
        {
            s.ReadExactly(buf);
            list.Add(buf.Select(b => b / 255f).ToArray());
        }
        return (n, h, w, list);
    }
}
