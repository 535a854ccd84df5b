using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace EquivarianceLab.TestSupport;

/// <summary>
/// What a server keeps in its data folder with the default folder store: objects under store/sha256/ab/&lt;hash&gt;,
/// and each node's named copies under cache/&lt;hash&gt;/&lt;name&gt;. An upload is cached as &lt;hash&gt;.&lt;ext&gt;; the zoo's files
/// keep their own names. (Linked into the browser tests too.)
/// </summary>
public static partial class DataFolderFiles
{
    public static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    public static string ObjectPath(string data, string sha256) => Path.Combine(data, "store", "sha256", sha256[..2], sha256);

    /// <summary>Uploads kept: the store's objects that this node cached under an upload's name, with that name.</summary>
    public static List<string> StoredUploads(string data, string extension = "")
    {
        var cache = Path.Combine(data, "cache");
        if (!Directory.Exists(cache)) return [];
        return Directory.EnumerateFiles(cache, "*", SearchOption.AllDirectories)
            .Where(f => UploadName().IsMatch(Path.GetFileName(f)) && Path.GetFileName(f).StartsWith(Path.GetFileName(Path.GetDirectoryName(f)!), StringComparison.Ordinal))
            .Where(f => f.EndsWith(extension, StringComparison.OrdinalIgnoreCase) && File.Exists(ObjectPath(data, Path.GetFileName(Path.GetDirectoryName(f)!))))
            .Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList()!;
    }

    /// <summary>
    /// What a server keeps: every file in the store and the incoming folder, and the uploads in this node's cache,
    /// relative and sorted — a snapshot to compare. (Other cached copies come and go as runs fetch files: not kept state.)
    /// </summary>
    public static string Snapshot(string data) => string.Join("\n", new[] { "store", "incoming" }
        .Select(d => Path.Combine(data, d)).Where(Directory.Exists)
        .SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories))
        .Select(f => Path.GetRelativePath(data, f)).Concat(StoredUploads(data)).Order(StringComparer.Ordinal));

    /// <summary>Files in flight (partial uploads, half-fetched copies) anywhere in the data folder.</summary>
    public static List<string> Partial(string data) =>
        Directory.EnumerateFiles(data, "*.part", SearchOption.AllDirectories).ToList();

    /// <summary>Removes a stored file from the store and from this node's cache, as if it had been lost.</summary>
    public static void Lose(string data, string sha256)
    {
        File.Delete(ObjectPath(data, sha256));
        var cached = Path.Combine(data, "cache", sha256);
        if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
    }

    [GeneratedRegex("^[0-9a-f]{64}\\.[a-z]+$")]
    private static partial Regex UploadName();
}
