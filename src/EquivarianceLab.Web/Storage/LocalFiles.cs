using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace EquivarianceLab.Web.Storage;

/// <summary>File operations the stores and the cache share: hashing, linking, copying, renaming into place.</summary>
public static class LocalFiles
{
    public static async Task<string> Sha256Async(string path, CancellationToken ct)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(file, ct));
    }

    public static async Task CopyAsync(string source, string destination, CancellationToken ct)
    {
        await using var from = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        await using var to = new FileStream(destination, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        await from.CopyToAsync(to, ct);
    }

    /// <summary>
    /// Renames a finished temporary file to its content-addressed name. Someone may have put the same content there
    /// first; their file is as good as ours, so ours goes.
    /// </summary>
    public static void MoveIntoPlace(string temp, string target)
    {
        try { File.Move(temp, target, overwrite: false); }
        catch (IOException) when (File.Exists(target)) { TryDelete(temp); }
    }

    public static bool TryDelete(string path)
    {
        try
        {
            if (!File.Exists(path)) return false;
            File.Delete(path);
            return true;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>link(2): a second name for the same bytes; false when the file systems differ or links are not allowed.</summary>
    public static bool TryHardLink(string existing, string newPath) =>
        !OperatingSystem.IsWindows() && Link(existing, newPath) == 0;

    [DllImport("libc", EntryPoint = "link", CharSet = CharSet.Ansi)]
    private static extern int Link(string existing, string newPath);
}
