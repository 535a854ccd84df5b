namespace EquivarianceLab.Web.Storage;

/// <summary>
/// Objects as files <c>&lt;folder&gt;/sha256/ab/abcdef…</c> (the first two hex digits fan the folder out). Writes go to a
/// unique temporary name first and are renamed into place, so a reader never sees half a file and two nodes writing
/// the same object on a shared mount both succeed.
/// </summary>
public sealed class FolderObjectStore(string folder) : IObjectStore
{
    public string Description => "folder store";

    public string PathOf(string sha256) => Path.Combine(folder, "sha256", sha256[..2], sha256);

    public Task<bool> ExistsAsync(string sha256, CancellationToken ct) => Task.FromResult(File.Exists(PathOf(sha256)));

    public async Task PutAsync(string sha256, string localFile, CancellationToken ct)
    {
        var target = PathOf(sha256);
        if (File.Exists(target)) return;
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var temp = $"{target}.{Guid.NewGuid():N}.part";
        try
        {
            // A hard link costs nothing when the file is on the same file system (the cache beside the store); a copy otherwise.
            if (!LocalFiles.TryHardLink(localFile, temp)) await LocalFiles.CopyAsync(localFile, temp, ct);
            LocalFiles.MoveIntoPlace(temp, target);
        }
        finally { LocalFiles.TryDelete(temp); }
    }

    public async Task CopyToAsync(string sha256, string destination, CancellationToken ct)
    {
        var source = PathOf(sha256);
        if (!File.Exists(source)) throw new StoredObjectMissingException(sha256);
        if (!LocalFiles.TryHardLink(source, destination)) await LocalFiles.CopyAsync(source, destination, ct);
    }

    public async Task CheckAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(folder);
        var probe = Path.Combine(folder, $".health-{Guid.NewGuid():N}");
        await File.WriteAllBytesAsync(probe, [1], ct);
        File.Delete(probe);
    }
}
