using System.IO.Compression;

namespace EquivarianceLab.Probes;

/// <summary>Encoded image files, in order, from a folder or a zip.</summary>
internal interface IImageSource : IDisposable
{
    string Name { get; }
    int Count { get; }
    /// <summary>How messages name entry <paramref name="index"/>: its relative name, made safe to quote, and the set's name (never a server path).</summary>
    string Describe(int index);
    /// <summary>Entry <paramref name="index"/>'s name relative to the folder or zip, with '/' separators.</summary>
    string RelativeName(int index);
    byte[] Read(int index);
}

internal static class ImageSourceRules
{
    /// <summary>Files that archivers and desktops add beside images; skipped rather than rejected.</summary>
    public static bool IsClutter(string relativeName)
    {
        var parts = relativeName.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length == 0 || parts[0] == "__MACOSX" || parts[^1] == ".DS_Store";
    }
}

internal sealed class FolderImageSource : IImageSource
{
    private readonly string _root;
    private readonly string[] _names;

    public FolderImageSource(string root, ProbeLimits limits)
    {
        _root = Path.GetFullPath(root);
        Name = Path.GetFileName(Path.TrimEndingDirectorySeparator(_root));
        var names = new List<string>();
        // Hidden files (dot files on Linux) are skipped by EnumerationOptions' defaults.
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = false };
        try
        {
            foreach (var file in Directory.EnumerateFiles(_root, "*", options))
            {
                var relative = Path.GetRelativePath(_root, file).Replace(Path.DirectorySeparatorChar, '/');
                if (ImageSourceRules.IsClutter(relative)) continue;
                names.Add(relative);
                if (names.Count > limits.MaxEntries)
                    throw new EquivarianceLabException($"Probe folder {Name} holds more than {limits.MaxEntries} files (the limit).");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EquivarianceLabException($"Cannot list probe folder {Name}: {Messages.FileProblem(e)}.", e);
        }
        names.Sort(StringComparer.Ordinal);
        _names = names.ToArray();
    }

    public string Name { get; }
    public int Count => _names.Length;
    public string Describe(int index) => $"'{Messages.Untrusted(_names[index])}' in {Name}";
    public string RelativeName(int index) => _names[index];

    public byte[] Read(int index)
    {
        var path = Path.Combine(_root, _names[index]);
        try
        {
            var length = new FileInfo(path).Length;
            if (length > Array.MaxLength)
                throw new EquivarianceLabException($"Image {Describe(index)} is {length} bytes, too large for an image.");
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EquivarianceLabException($"Cannot read probe image {Describe(index)}: {Messages.FileProblem(e)}.", e);
        }
    }

    public void Dispose() { }
}

/// <summary>
/// A zip of images, checked before anything is inflated: no entry name may escape the archive (zip slip), and the
/// entry count, declared total size and per-entry compression ratio are limited. Inflation then counts real bytes,
/// so a header that lies about an entry's size is caught too.
/// </summary>
internal sealed class ZipImageSource : IImageSource
{
    private readonly string _path;
    private readonly ZipArchive _zip;
    private readonly ZipArchiveEntry[] _entries;

    public ZipImageSource(string path, ProbeLimits limits)
    {
        _path = path;
        Name = Path.GetFileName(path);
        try
        {
            _zip = ZipFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new EquivarianceLabException($"{Name} is not a valid zip file: {e.Message}", e);
        }
        try
        {
            _entries = Validate(limits);
        }
        catch
        {
            _zip.Dispose();
            throw;
        }
    }

    public string Name { get; }
    public int Count => _entries.Length;
    public string Describe(int index) => Describe(_entries[index]);
    private string Describe(ZipArchiveEntry entry) => $"'{Messages.Untrusted(entry.FullName)}' in {Name}";
    public string RelativeName(int index) => _entries[index].FullName;

    private ZipArchiveEntry[] Validate(ProbeLimits limits)
    {
        var all = _zip.Entries;
        if (all.Count > limits.MaxEntries)
            throw new EquivarianceLabException($"{Name} has {all.Count} entries; the limit is {limits.MaxEntries}.");
        long declared = 0;
        var images = new List<ZipArchiveEntry>();
        foreach (var entry in all)
        {
            var name = entry.FullName;
            if (IsUnsafeName(name))
                throw new EquivarianceLabException($"{Name} has an unsafe entry name '{Messages.Untrusted(name)}' (absolute or leading outside the archive); refusing it.");
            declared += entry.Length;
            if (entry.Length < 0 || declared > limits.MaxUncompressedBytes)
                throw new EquivarianceLabException($"{Name} declares more than {limits.MaxUncompressedBytes} bytes of uncompressed data (the limit); refusing a possible zip bomb.");
            if (entry.Length > 0 && (entry.CompressedLength <= 0 || (double)entry.Length / entry.CompressedLength > limits.MaxCompressionRatio))
                throw new EquivarianceLabException($"Entry {Describe(entry)} has a compression ratio over {limits.MaxCompressionRatio:0.##}:1 ({entry.Length} bytes from {entry.CompressedLength}); refusing a possible zip bomb.");
            if (name.EndsWith('/') || ImageSourceRules.IsClutter(name)) continue;
            images.Add(entry);
        }
        images.Sort((a, b) => string.CompareOrdinal(a.FullName, b.FullName));
        return images.ToArray();
    }

    private static bool IsUnsafeName(string name)
    {
        if (name.Length == 0 || name.Contains('\0')) return true;
        if (name[0] is '/' or '\\' || Path.IsPathRooted(name)) return true;
        if (name.Length >= 2 && char.IsAsciiLetter(name[0]) && name[1] == ':') return true; // C:evil, C:\evil
        return name.Split('/', '\\').Any(part => part == "..");
    }

    public byte[] Read(int index) => Inflate(_entries[index]);

    /// <summary>Inflates one entry, reading at most one byte past its declared size.</summary>
    private byte[] Inflate(ZipArchiveEntry entry)
    {
        long declared = entry.Length;
        if (declared > Array.MaxLength)
            throw new EquivarianceLabException($"Entry {Describe(entry)} is {declared} bytes, too large for an image.");
        var buffer = new byte[declared];
        try
        {
            using var stream = entry.Open();
            int done = 0;
            while (done < buffer.Length)
            {
                int n = stream.Read(buffer, done, buffer.Length - done);
                if (n == 0)
                    throw new EquivarianceLabException($"Entry {Describe(entry)} is corrupt: it inflates to {done} bytes but declares {declared}.");
                done += n;
            }
            Span<byte> extra = stackalloc byte[1];
            if (stream.Read(extra) != 0)
                throw new EquivarianceLabException($"Entry {Describe(entry)} inflates to more than its declared {declared} bytes; refusing a possible zip bomb.");
            // .NET stops inflating at the declared size, so a header that understates it shows up as a CRC mismatch.
            if (System.IO.Hashing.Crc32.HashToUInt32(buffer) != entry.Crc32)
                throw new EquivarianceLabException($"Entry {Describe(entry)} does not match its declared size and checksum ({declared} bytes); refusing a corrupt or lying zip header.");
        }
        catch (InvalidDataException e)
        {
            throw new EquivarianceLabException($"Entry {Describe(entry)} is corrupt: {e.Message}", e);
        }
        return buffer;
    }

    public void Dispose() => _zip.Dispose();
}
