using System.Text;

namespace EquivarianceLab.Tests.Probes;

internal static class NpyTestFiles
{
    /// <summary>An .npy file written byte by byte as numpy lays it out, with any header dict and version.</summary>
    public static void WriteRaw(string path, int major, string dict, ReadOnlySpan<float> data, int dataBytes = -1)
    {
        int prefix = major == 1 ? 10 : 12;
        var encoding = major == 3 ? Encoding.UTF8 : Encoding.Latin1;
        int headerLen = (prefix + encoding.GetByteCount(dict) + 1 + 63) / 64 * 64 - prefix;
        var header = dict + new string(' ', headerLen - encoding.GetByteCount(dict) - 1) + "\n";
        using var s = File.Create(path);
        s.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0]);
        if (major == 1) s.Write(BitConverter.GetBytes((ushort)encoding.GetByteCount(header)));
        else s.Write(BitConverter.GetBytes((uint)encoding.GetByteCount(header)));
        s.Write(encoding.GetBytes(header));
        var bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(data);
        s.Write(dataBytes < 0 ? bytes : bytes[..dataBytes]);
    }

    /// <summary>The header dict numpy writes for a float32 array of <paramref name="shape"/> (written as given).</summary>
    public static string Dict(string shape) => $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}";
}
