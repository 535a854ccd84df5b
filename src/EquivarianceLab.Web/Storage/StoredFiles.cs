using EquivarianceLab.Web.Data;

namespace EquivarianceLab.Web.Storage;

/// <summary>
/// The one way files reach the store and come back: a file is kept by its SHA-256, and read back as a local copy in
/// this node's cache (<c>&lt;data&gt;/cache/&lt;sha256&gt;/&lt;name&gt;</c>), named as the loaders expect (their format follows the
/// extension). The database records the hash and that name only, so any node can open what any other node kept.
/// </summary>
public sealed class StoredFiles(IObjectStore store, LabPaths paths)
{
    public IObjectStore Store => store;

    /// <summary>
    /// Hashes a local file that is not the store's own (the zoo's, a built-in probe set) and puts a copy of it in the
    /// store unless the store has that content. A copy, never a link: a zoo file replaced in place by a new release
    /// (<c>cp</c>) would otherwise change what the store holds under the old file's hash, which the runs measured with
    /// it still open (their feature maps, Run.ModelContentHash).
    /// </summary>
    public async Task<string> KeepAsync(string localFile, CancellationToken ct)
    {
        var sha256 = await LocalFiles.Sha256Async(localFile, ct);
        if (await store.ExistsAsync(sha256, ct)) return sha256;
        Directory.CreateDirectory(paths.Cache);
        var copy = Path.Combine(paths.Cache, $".{Guid.NewGuid():N}.part");
        try
        {
            await LocalFiles.CopyAsync(localFile, copy, ct);
            // The hash of what is stored, in case the file changed between the two reads.
            sha256 = await LocalFiles.Sha256Async(copy, ct);
            await store.PutAsync(sha256, copy, ct);
        }
        finally { LocalFiles.TryDelete(copy); }
        return sha256;
    }

    /// <summary>Keeps small content made here (a thumbnail): in this node's cache under <paramref name="name"/>, and in the store.</summary>
    public async Task<string> KeepAsync(byte[] content, string name, CancellationToken ct)
    {
        var sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content));
        await KeepDerivedAsync(sha256, content, name, ct);
        return sha256;
    }

    /// <summary>
    /// Keeps content computed from stored files (a run's feature maps) under <paramref name="key"/>: the SHA-256 of a
    /// description of everything it was computed from, not of its bytes. In this node's cache and in the store, so any
    /// node asked the same finds it; written once, since the same inputs give the same content.
    /// </summary>
    public async Task KeepDerivedAsync(string key, byte[] content, string name, CancellationToken ct)
    {
        var path = CachePath(key, name);
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            var temp = Path.Combine(Path.GetDirectoryName(path)!, $".{Guid.NewGuid():N}.part");
            await File.WriteAllBytesAsync(temp, content, ct);
            LocalFiles.MoveIntoPlace(temp, path);
        }
        await store.PutAsync(key, path, ct);
    }

    /// <summary>What <see cref="KeepDerivedAsync"/> kept under <paramref name="key"/> (fetched into this node's cache on first use), or null when the store has nothing under it.</summary>
    public async Task<byte[]?> ReadDerivedAsync(string key, string name, CancellationToken ct)
    {
        var path = CachePath(key, name);
        if (!File.Exists(path))
        {
            // Named by its inputs, so there is no hash of the bytes to check.
            try { await FetchAsync(key, path, checkHash: false, ct); }
            catch (StoredObjectMissingException) { return null; }
        }
        return await File.ReadAllBytesAsync(path, ct);
    }

    /// <summary>
    /// Moves a file just written and hashed on this node (an upload) into the cache under its hash and name, without
    /// storing it: it is opened there to check it, and only a usable file is then <see cref="PublishAsync"/>ed.
    /// </summary>
    public string Adopt(string tempFile, string sha256, string name)
    {
        var path = CachePath(sha256, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        LocalFiles.MoveIntoPlace(tempFile, path);
        return path;
    }

    public Task PublishAsync(string sha256, string localFile, CancellationToken ct) => store.PutAsync(sha256, localFile, ct);

    /// <summary>
    /// The same content uploaded again for an entry that exists: if the store lost the file, the upload brings it back
    /// (the bytes are the same, the hash says so), so the entry works again.
    /// </summary>
    public async Task RestoreAsync(Uploads.UploadWriter.Incoming incoming, string name, CancellationToken ct)
    {
        if (await Uploads.UploadWriter.StorageAsync(() => store.ExistsAsync(incoming.Sha256, ct))) return;
        var path = Uploads.UploadWriter.Storage(() => Adopt(incoming.TempPath, incoming.Sha256, name));
        await Uploads.UploadWriter.StorageAsync(() => store.PutAsync(incoming.Sha256, path, ct));
    }

    /// <summary>Forgets this node's copy (an upload that turned out unusable).</summary>
    public void Evict(string sha256, string name)
    {
        var path = CachePath(sha256, name);
        LocalFiles.TryDelete(path);
        try { Directory.Delete(Path.GetDirectoryName(path)!); } catch (IOException) { } // not empty: other names of the same bytes
    }

    /// <summary>A local path holding the stored file, fetched into the cache on first use (and its hash checked).</summary>
    public async Task<string> LocalPathAsync(string sha256, string name, CancellationToken ct)
    {
        var path = CachePath(sha256, name);
        if (!File.Exists(path)) await FetchAsync(sha256, path, checkHash: true, ct);
        return path;
    }

    private async Task FetchAsync(string sha256, string path, bool checkHash, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // Several jobs (or worker nodes on one shared data folder) may fetch the same file at once: each into its own
        // temporary name, then renamed into place.
        var temp = Path.Combine(Path.GetDirectoryName(path)!, $".{Guid.NewGuid():N}.part");
        try
        {
            await store.CopyToAsync(sha256, temp, ct);
            if (checkHash && store is not FolderObjectStore && await LocalFiles.Sha256Async(temp, ct) != sha256)
                throw new InvalidDataException($"The stored file {sha256[..12]}… arrived with different content; the store may be damaged.");
            LocalFiles.MoveIntoPlace(temp, path);
        }
        finally { LocalFiles.TryDelete(temp); }
    }

    /// <summary>The local path of a model's file; a built-in control has no file, only its name for the loader.</summary>
    public Task<string> LocalPathAsync(ModelEntry model, CancellationToken ct) =>
        model.ContentHash is { } sha256 ? LocalPathAsync(sha256, model.FileName, ct) : Task.FromResult(model.FileName);

    /// <summary>
    /// The local path of the model file a run measured (<see cref="Run.MeasuredModelHash"/>: the store keeps it after
    /// the model's file changes); a built-in control's name, which has no file.
    /// </summary>
    public Task<string> MeasuredModelPathAsync(Run run, CancellationToken ct) =>
        run.MeasuredModelHash is { } sha256 ? LocalPathAsync(sha256, run.Model!.FileName, ct) : Task.FromResult(run.Model!.FileName);

    public Task<string> LocalPathAsync(ProbeSetEntry probeSet, CancellationToken ct) =>
        LocalPathAsync(probeSet.ContentHash ?? throw new StoredObjectMissingException("(none)"), probeSet.FileName, ct);

    private string CachePath(string sha256, string name)
    {
        if (sha256.Length != 64 || !sha256.All(char.IsAsciiHexDigitLower)) throw new ArgumentException("Not a SHA-256 in lower-case hex.", nameof(sha256));
        var file = Path.GetFileName(name);
        if (file.Length == 0 || file.StartsWith('.')) throw new ArgumentException("A stored file needs a plain name.", nameof(name));
        return Path.Combine(paths.Cache, sha256, file);
    }
}
