using EquivarianceLab.Web.Accounts;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Security;
using EquivarianceLab.Web.Storage;
using EquivarianceLab.Web.Uploads;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.ProbeSets;

/// <summary>Uploaded probe sets (.npy float32 [N,C,H,W] or .zip of images), validated by opening them with the library.</summary>
public sealed class ProbeSetService(IDbContextFactory<AppDbContext> dbFactory, IMeasurementRunner runner, LabPaths paths, StoredFiles files,
    SafeText safeText, ContentLocks contentLocks, UploadQuota quota, TimeProvider time, ILogger<ProbeSetService> builtInLogger)
{
    public const int ThumbnailCount = 24;

    public static string CheckFields(string fileName)
    {
        var ext = Path.GetExtension(fileName).ToLowerInvariant();
        return ext switch
        {
            ".npy" => "npy",
            ".zip" => "images",
            _ => throw RequestException.Invalid("file", $"Unsupported probe set '{UploadNames.SafeName(fileName)}': use .npy (float32 [N,C,H,W]) or .zip of PNG/JPEG images."),
        };
    }

    public async Task<ProbeSetEntry> AddAsync(UploadWriter.Incoming incoming, string fileName, string? name, Caller caller, CancellationToken ct = default)
    {
        try
        {
            var kind = CheckFields(fileName);
            UploadNames.CheckGivenName("name", name);
            return await contentLocks.RunAsync(incoming.Sha256, () => KeepAsync(incoming, fileName, name, kind, caller, ct), ct);
        }
        finally { LocalFiles.TryDelete(incoming.TempPath); }
    }

    /// <summary>Under the content lock: an identical upload before this one (or on another node) is the answer.</summary>
    private async Task<ProbeSetEntry> KeepAsync(UploadWriter.Incoming incoming, string fileName, string? name, string kind, Caller caller, CancellationToken ct)
    {
        var ext = Path.GetExtension(fileName).ToLowerInvariant();
        var id = "upload-" + incoming.Sha256[..12];
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (await db.ProbeSets.AsNoTracking().FirstOrDefaultAsync(p => p.Id == id, ct) is { } existing)
        {
            await files.RestoreAsync(incoming, existing.FileName, ct);
            return existing;
        }
        await quota.CheckAsync(caller, incoming.Length, ct);
        var storedName = incoming.Sha256 + ext;
        // Opened from this node's cache; it reaches the store (and other nodes) only once it proved usable.
        var finalPath = UploadWriter.Storage(() => files.Adopt(incoming.TempPath, incoming.Sha256, storedName));
        ProbeInspection inspection;
        try
        {
            inspection = runner.InspectProbeSet(finalPath, ThumbnailCount);
            if (inspection.Count == 0) throw new EquivarianceLabException("it holds no images.");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            files.Evict(incoming.Sha256, storedName);
            throw RequestException.Unusable($"Not a usable probe set: {safeText.Clean(LibraryErrors.Describe(e), (finalPath, UploadNames.SafeName(fileName)))}");
        }
        await UploadWriter.StorageAsync(() => files.PublishAsync(incoming.Sha256, finalPath, ct));
        var entry = new ProbeSetEntry
        {
            Id = id, Name = UploadNames.CleanName(name) ?? UploadNames.CleanName(Path.GetFileNameWithoutExtension(fileName)) ?? id,
            Kind = kind, Source = Sources.Upload, FileName = storedName, Count = inspection.Count,
            ImageShape = inspection.ImageShape.Count == 3 ? CardJson.Shape(inspection.ImageShape) : "",
            ContentHash = incoming.Sha256, SizeBytes = incoming.Length, AddedUtc = time.GetUtcNow().UtcDateTime,
            OwnerId = caller.UserId, OwnerName = caller.OwnerName,
        };
        await UploadWriter.StorageAsync(() => KeepThumbnailsAsync(entry, inspection.Samples, inspection.SampleShape, ct));
        db.ProbeSets.Add(entry);
        try { await db.SaveChangesAsync(ct); }
        catch (DbUpdateException)
        {
            // Another node kept the same content first; its entry is as good as ours.
            if (await FindAsync(id, ct) is not { } stored) throw;
            return stored;
        }
        return entry;
    }

    /// <summary>Every probe set, the default first, by name.</summary>
    public async Task<List<ProbeSetEntry>> ListAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.ProbeSets.AsNoTracking().OrderByDescending(p => p.IsDefault).ThenBy(p => p.Name).ToListAsync(ct);
    }

    public async Task<ProbeSetEntry?> FindAsync(string id, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.ProbeSets.AsNoTracking().FirstOrDefaultAsync(p => p.Id == id, ct);
    }

    public async Task<int> CountAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.ProbeSets.CountAsync(ct);
    }

    /// <summary>The PNG for thumbnail <paramref name="index"/> (a local copy of the stored one), resolved from the database id only.</summary>
    public async Task<string?> ThumbnailPathAsync(string id, int index, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var hashes = await db.ProbeSets.AsNoTracking().Where(p => p.Id == id).Select(p => p.ThumbnailHashes).FirstOrDefaultAsync(ct);
        var list = hashes?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];
        if (index < 0 || index >= list.Length) return null;
        try { return await files.LocalPathAsync(list[index], Thumbnails.FileName, ct); }
        catch (StoredObjectMissingException) { return null; }
    }

    /// <summary>Encodes the samples as PNGs, keeps them in the store and records their hashes on the entry.</summary>
    private async Task KeepThumbnailsAsync(ProbeSetEntry entry, IReadOnlyList<float[]> samples, IReadOnlyList<long> shape, CancellationToken ct)
    {
        var hashes = new List<string>();
        foreach (var png in Thumbnails.Encode(samples, shape)) hashes.Add(await files.KeepAsync(png, Thumbnails.FileName, ct));
        entry.ThumbnailHashes = string.Join(' ', hashes);
        entry.Thumbnails = hashes.Count;
    }

    public const string FashionMnistId = "fashion-mnist-test";
    public const string FashionMnistName = "Fashion-MNIST test (10k)";
    public static string FashionMnistRelative { get; } = Path.Combine("data", "fashion-mnist", "t10k-images-idx3-ubyte.gz");

    public const string NaturalPhotosId = "natural-photos";
    public const string NaturalPhotosName = "Natural photos (50)";
    public static string NaturalPhotosRelative { get; } = Path.Combine("data", "natural-photos", "photos.zip");

    /// <summary>
    /// At start: registers the shipped probe sets — the Fashion-MNIST test images (the default probe set unless another
    /// is) and the natural photos for ImageNet-scale models (models/data/natural-photos/README.md) — with thumbnails.
    /// </summary>
    public async Task RegisterBuiltInAsync(CancellationToken ct = default)
    {
        await RegisterFashionMnistAsync(ct);
        await RegisterNaturalPhotosAsync(ct);
    }

    private async Task RegisterFashionMnistAsync(CancellationToken ct)
    {
        if (BuiltInFile(FashionMnistRelative) is not { } path) return;
        var hash = await files.KeepAsync(path, ct);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var entry = await db.ProbeSets.FirstOrDefaultAsync(p => p.Id == FashionMnistId, ct);
        // The file is read (and thumbnails made) only when it is new or changed.
        if (entry is null || entry.ContentHash != hash || entry.ThumbnailHashes is null)
        {
            // The library's IDX reader: the same one a measurement of this probe set uses.
            var images = EquivarianceLab.Probes.FashionMnist.LoadImages(path);
            int count = images.Count, h = images.Height, w = images.Width, size = h * w;
            var samples = Enumerable.Range(0, Math.Min(ThumbnailCount, count))
                .Select(i => images.Pixels.AsSpan(i * size, size).ToArray().Select(b => b / 255f).ToArray()).ToList();
            entry ??= AddBuiltIn(db, FashionMnistId, FashionMnistName, "idx", path);
            entry.FileName = Path.GetFileName(path);
            entry.ContentHash = hash;
            entry.LegacyPath = null;
            entry.Count = count;
            entry.ImageShape = $"1×{h}×{w}";
            entry.SizeBytes = new FileInfo(path).Length;
            await KeepThumbnailsAsync(entry, samples, [1, h, w], ct);
        }
        if (!await db.ProbeSets.AnyAsync(p => p.IsDefault && p.Id != FashionMnistId, ct)) entry.IsDefault = true;
        await db.SaveChangesAsync(ct);
    }

    /// <summary>
    /// The photo archive is opened like an upload (by the worker), but only when it is new or changed, so an ordinary
    /// start costs nothing.
    /// </summary>
    private async Task RegisterNaturalPhotosAsync(CancellationToken ct)
    {
        if (BuiltInFile(NaturalPhotosRelative) is not { } path) return;
        var hash = await files.KeepAsync(path, ct);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var entry = await db.ProbeSets.FirstOrDefaultAsync(p => p.Id == NaturalPhotosId, ct);
        if (entry is not null && entry.ContentHash == hash && entry.ThumbnailHashes is not null) return;
        ProbeInspection inspection;
        try { inspection = runner.InspectProbeSet(path, ThumbnailCount); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            builtInLogger.LogWarning("Built-in probe set {Path} could not be opened: {Reason}", path, LibraryErrors.Describe(e));
            return;
        }
        entry ??= AddBuiltIn(db, NaturalPhotosId, NaturalPhotosName, "images", path);
        entry.FileName = Path.GetFileName(path);
        entry.ContentHash = hash;
        entry.LegacyPath = null;
        entry.Count = inspection.Count;
        entry.SizeBytes = new FileInfo(path).Length;
        await KeepThumbnailsAsync(entry, inspection.Samples, inspection.SampleShape, ct);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>The shipped file's path, or null (and a warning) when this checkout lacks it.</summary>
    private string? BuiltInFile(string relative)
    {
        var path = Path.Combine(paths.ZooFolder, relative);
        if (File.Exists(path)) return path;
        builtInLogger.LogWarning("Built-in probe set {Path} not found.", path);
        return null;
    }

    private ProbeSetEntry AddBuiltIn(AppDbContext db, string id, string name, string kind, string path)
    {
        var entry = new ProbeSetEntry { Id = id, Name = name, Kind = kind, Source = Sources.BuiltIn, FileName = Path.GetFileName(path), AddedUtc = time.GetUtcNow().UtcDateTime };
        db.ProbeSets.Add(entry);
        return entry;
    }
}
