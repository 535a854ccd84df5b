namespace EquivarianceLab.Web.Storage;

/// <summary>
/// Where the lab keeps the files runs need (uploaded models, probe sets, the zoo's files, thumbnails): one object per
/// content, named by its SHA-256 (lower-case hex), so every node finds the same bytes under the same name and nothing
/// in the database depends on a node's folders. A folder (local or a shared mount) or an S3-compatible object store.
/// What the app computes from stored files (a run's feature maps) is named instead by the SHA-256 of what it was computed
/// from (<see cref="StoredFiles.KeepDerivedAsync"/>).
/// </summary>
public interface IObjectStore
{
    /// <summary>What the store is, for logs and health: "folder store" / "S3 bucket 'x'", never a path or a secret.</summary>
    string Description { get; }

    Task<bool> ExistsAsync(string sha256, CancellationToken ct);

    /// <summary>Stores the file's bytes as object <paramref name="sha256"/> (the caller hashed them); storing it again does nothing.</summary>
    Task PutAsync(string sha256, string localFile, CancellationToken ct);

    /// <summary>
    /// Makes <paramref name="destination"/> hold the object's bytes (a new file; the caller renames it into place).
    /// Throws <see cref="StoredObjectMissingException"/> when the store has no such object.
    /// </summary>
    Task CopyToAsync(string sha256, string destination, CancellationToken ct);

    /// <summary>Answers when the store can be reached and written (health checks); throws otherwise.</summary>
    Task CheckAsync(CancellationToken ct);
}

/// <summary>The store has no object for a hash the database names: its file was lost or never arrived.</summary>
public sealed class StoredObjectMissingException(string sha256)
    : Exception($"The object store has no file with SHA-256 {sha256[..Math.Min(12, sha256.Length)]}…; it may have been deleted.")
{
    public string Sha256 { get; } = sha256;
}
