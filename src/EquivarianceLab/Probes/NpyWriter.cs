using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace EquivarianceLab.Probes;

/// <summary>Writes little-endian float32 C-order <c>.npy</c> files the way <c>numpy.save</c> does.</summary>
public static class NpyWriter
{
    public static void Write(string path, float[] data, long[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        long product = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"Negative dimension in shape {ProbeTensors.FormatShape(shape)}.", nameof(shape));
            product = checked(product * d);
        }
        if (product != data.LongLength)
            throw new ArgumentException($"Shape {ProbeTensors.FormatShape(shape)} holds {product} values but data has {data.LongLength}.", nameof(data));
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("NpyWriter needs a little-endian machine.");

        string shapeText = shape.Length == 1
            ? $"({shape[0].ToString(CultureInfo.InvariantCulture)},)"
            : "(" + string.Join(", ", shape.Select(d => d.ToString(CultureInfo.InvariantCulture))) + ")";
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': {shapeText}, }}";

        // numpy pads the header with spaces and a final newline so the data starts on a 64-byte boundary;
        // version 2.0 only when the header does not fit the 16-bit length of version 1.0.
        int major = 1, prefix = 10;
        int headerLen = Padded(dict.Length + 1, prefix);
        if (headerLen > ushort.MaxValue) { major = 2; prefix = 12; headerLen = Padded(dict.Length + 1, prefix); }
        var header = new StringBuilder(dict).Append(' ', headerLen - dict.Length - 1).Append('\n').ToString();

        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)major, 0]);
        if (major == 1) stream.Write(BitConverter.GetBytes((ushort)headerLen));
        else stream.Write(BitConverter.GetBytes((uint)headerLen));
        stream.Write(Encoding.Latin1.GetBytes(header));
        // Write in chunks: a span over more than 2 GiB of bytes does not exist.
        const int chunk = 1 << 26;
        for (long offset = 0; offset < data.LongLength; offset += chunk)
        {
            int n = (int)Math.Min(chunk, data.LongLength - offset);
            stream.Write(MemoryMarshal.AsBytes(data.AsSpan((int)offset, n)));
        }
    }

    private static int Padded(int length, int prefix) => (prefix + length + 63) / 64 * 64 - prefix;
}
