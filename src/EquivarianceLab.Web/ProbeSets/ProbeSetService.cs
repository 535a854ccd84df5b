using EquivarianceLab.Web.Accounts;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Security;
using EquivarianceLab.Web.Uploads;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.ProbeSets;

/// <summary>Uploaded probe sets (.npy float32 [N,C,H,W] or .zip of images), validated by opening them with the library.</summary>
public sealed class ProbeSetService(IDbContextFactory<AppDbContext> dbFactory, IMeasurementRunner runner, LabPaths paths, SafeText safeText,
    ContentLocks contentLocks, UploadQuota quota, TimeProvider time, ILogger<ProbeSetService> builtInLogger)
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
        finally { UploadWriter.TryDelete(incoming.TempPath); }
    }

    /// <summary>Under the content lock: an identical upload before this one (or on another node) is the answer.</summary>
    private async Task<ProbeSetEntry> KeepAsync(UploadWriter.Incoming incoming, string fileName, string? name, string kind, Caller caller, CancellationToken ct)
    {
        var ext = Path.GetExtension(fileName).ToLowerInvariant();
        var id = "upload-" + incoming.Sha256[..12];
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (await db.ProbeSets.AsNoTracking().FirstOrDefaultAsync(p => p.Id == id, ct) is { } existing) return existing;
        await quota.CheckAsync(caller, incoming.Length, ct);
        Directory.CreateDirectory(paths.ProbeFiles);
        var finalPath = Path.Combine(paths.ProbeFiles, incoming.Sha256 + ext);
        UploadWriter.Keep(incoming.TempPath, finalPath);
        ProbeInspection inspection;
        try
        {
            inspection = runner.InspectProbeSet(finalPath, ThumbnailCount);
            if (inspection.Count == 0) throw new EquivarianceLabException("it holds no images.");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            UploadWriter.TryDelete(finalPath);
            throw RequestException.Unusable($"Not a usable probe set: {safeText.Clean(LibraryErrors.Describe(e), (finalPath, UploadNames.SafeName(fileName)))}");
        }
        var thumbs = Thumbnails.Write(Path.Combine(paths.Thumbnails, id), inspection.Samples, inspection.SampleShape);
        var entry = new ProbeSetEntry
        {
            Id = id, Name = UploadNames.CleanName(name) ?? UploadNames.CleanName(Path.GetFileNameWithoutExtension(fileName)) ?? id,
            Kind = kind, Source = Sources.Upload, FilePath = finalPath, Count = inspection.Count,
            ImageShape = inspection.ImageShape.Count == 3 ? CardJson.Shape(inspection.ImageShape) : "",
            ContentHash = incoming.Sha256, SizeBytes = incoming.Length, Thumbnails = thumbs, AddedUtc = time.GetUtcNow().UtcDateTime,
            OwnerId = caller.UserId, OwnerName = caller.OwnerName,
        };
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

    /// <summary>The PNG for thumbnail <paramref name="index"/>, resolved from the database id only (never a user path).</summary>
    public async Task<string?> ThumbnailPathAsync(string id, int index, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var entry = await db.ProbeSets.AsNoTracking().FirstOrDefaultAsync(p => p.Id == id, ct);
        if (entry is null || index < 0 || index >= entry.Thumbnails) return null;
        var path = Path.Combine(paths.Thumbnails, entry.Id, $"{index}.png");
        return File.Exists(path) ? path : null;
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
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var entry = await db.ProbeSets.FirstOrDefaultAsync(p => p.Id == FashionMnistId, ct);
        var thumbs = Path.Combine(paths.Thumbnails, FashionMnistId);
        // The library's IDX reader: the same one a measurement of this probe set uses.
        var images = EquivarianceLab.Probes.FashionMnist.LoadImages(path);
        int count = images.Count, h = images.Height, w = images.Width, size = h * w;
        var samples = Enumerable.Range(0, Math.Min(ThumbnailCount, count))
            .Select(i => images.Pixels.AsSpan(i * size, size).ToArray().Select(b => b / 255f).ToArray()).ToList();
        entry ??= AddBuiltIn(db, FashionMnistId, FashionMnistName, "idx", path);
        entry.FilePath = path;
        entry.Count = count;
        entry.ImageShape = $"1×{h}×{w}";
        entry.SizeBytes = new FileInfo(path).Length;
        if (!await db.ProbeSets.AnyAsync(p => p.IsDefault && p.Id != FashionMnistId, ct)) entry.IsDefault = true;
        if (!File.Exists(Path.Combine(thumbs, "0.png")) || entry.Thumbnails == 0)
            entry.Thumbnails = Thumbnails.Write(thumbs, samples, [1, h, w]);
        await db.SaveChangesAsync(ct);
    }

    /// <summary>
    /// The photo archive is opened like an upload (by the worker), but only when it is new or its thumbnails are gone,
    /// so an ordinary start costs nothing.
    /// </summary>
    private async Task RegisterNaturalPhotosAsync(CancellationToken ct)
    {
        if (BuiltInFile(NaturalPhotosRelative) is not { } path) return;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var entry = await db.ProbeSets.FirstOrDefaultAsync(p => p.Id == NaturalPhotosId, ct);
        var thumbs = Path.Combine(paths.Thumbnails, NaturalPhotosId);
        var size = new FileInfo(path).Length;
        if (entry is not null && entry.FilePath == path && entry.SizeBytes == size && entry.Thumbnails > 0 && File.Exists(Path.Combine(thumbs, "0.png")))
            return;
        ProbeInspection inspection;
        try { inspection = runner.InspectProbeSet(path, ThumbnailCount); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            builtInLogger.LogWarning("Built-in probe set {Path} could not be opened: {Reason}", path, LibraryErrors.Describe(e));
            return;
        }
        entry ??= AddBuiltIn(db, NaturalPhotosId, NaturalPhotosName, "images", path);
        entry.FilePath = path;
        entry.Count = inspection.Count;
        entry.SizeBytes = size;
        entry.Thumbnails = Thumbnails.Write(thumbs, inspection.Samples, inspection.SampleShape);
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
        var entry = new ProbeSetEntry { Id = id, Name = name, Kind = kind, Source = Sources.BuiltIn, FilePath = path, AddedUtc = time.GetUtcNow().UtcDateTime };
        db.ProbeSets.Add(entry);
        return entry;
    }
}
