using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace EquivarianceLab.Tests.Probes;

/// <summary>Hand-built hostile probe files: small on disk, huge once decoded.</summary>
internal static class HostileFiles
{
    /// <summary>
    /// A valid PNG of a <paramref name="width"/>×<paramref name="height"/> black 1-bit grey image: its all-zero scanlines
    /// deflate to almost nothing (10 000 × 10 000 is ≈ 12 KB), while decoding it to RGBA takes width·height·4 bytes.
    /// </summary>
    public static byte[] BlackPng(int width, int height)
    {
        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 1; // bit depth 1, colour type 0 (grey), deflate, no filter method variants, no interlace
        Chunk(png, "IHDR", ihdr);
        var scanline = new byte[1 + (width + 7) / 8]; // filter byte 0, then zero bits
        using (var idat = new MemoryStream())
        {
            using (var z = new ZLibStream(idat, CompressionLevel.SmallestSize, leaveOpen: true))
                for (int y = 0; y < height; y++) z.Write(scanline);
            Chunk(png, "IDAT", idat.ToArray());
        }
        Chunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void Chunk(Stream png, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        png.Write(word);
        var typeAndData = Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
        png.Write(typeAndData);
        BinaryPrimitives.WriteUInt32BigEndian(word, System.IO.Hashing.Crc32.HashToUInt32(typeAndData));
        png.Write(word);
    }

    /// <summary>A zip holding <paramref name="count"/> copies of <paramref name="entry"/>, named 0000.png, 0001.png, ….</summary>
    public static void ZipOfCopies(string path, byte[] entry, int count)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        for (int i = 0; i < count; i++)
        {
            using var s = zip.CreateEntry($"{i:D4}.png", CompressionLevel.SmallestSize).Open();
            s.Write(entry);
        }
    }

    /// <summary>An IDX3 images file with any header and <paramref name="pixelBytes"/> bytes of pixels (gzip when the name ends in .gz).</summary>
    public static void Idx(string path, int count, int rows, int cols, long pixelBytes)
    {
        using var file = File.Create(path);
        using Stream s = path.EndsWith(".gz", StringComparison.Ordinal) ? new GZipStream(file, CompressionLevel.SmallestSize) : file;
        Span<byte> word = stackalloc byte[4];
        foreach (var v in new[] { 2051, count, rows, cols })
        {
            BinaryPrimitives.WriteInt32BigEndian(word, v);
            s.Write(word);
        }
        var zeros = new byte[1 << 20];
        for (long done = 0; done < pixelBytes; done += zeros.Length) s.Write(zeros, 0, (int)Math.Min(zeros.Length, pixelBytes - done));
    }
}
