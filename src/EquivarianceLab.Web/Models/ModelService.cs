using EquivarianceLab.Web.Accounts;
using EquivarianceLab.FeatureModels;
using System.Globalization;
using System.Text.Json;
using EquivarianceLab.Cards;
using EquivarianceLab.Probes;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Uploads;
using EquivarianceLab.Web.Security;
using EquivarianceLab.Web.Storage;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Models;

/// <summary>The fields that come with an uploaded model file.</summary>
public sealed record ModelUpload
{
    public required string FileName { get; init; }
    public string? Architecture { get; init; }
    public string? Name { get; init; }
    public double? Accuracy { get; init; }
    /// <summary>"C,H,W" — needed only when the file does not fix its input size.</summary>
    public string? InputShape { get; init; }
    /// <summary>unit (pixels / 255, default) or imagenet (torchvision mean/std).</summary>
    public string? Preprocessing { get; init; }
    public string? Family { get; init; }
}

/// <summary>Uploaded models: streamed to disk, opened with the library, and only then kept in the store by content hash.</summary>
public sealed class ModelService(IDbContextFactory<AppDbContext> dbFactory, IMeasurementRunner runner, LabPaths paths, StoredFiles files,
    SafeText safeText, ContentLocks contentLocks, UploadQuota quota, TimeProvider time, ILogger<ModelService> zooLogger)
{
    public static readonly IReadOnlyDictionary<string, string> Formats = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        [".onnx"] = "onnx", [".dat"] = "torchsharp", [".pt"] = "pytorch", [".pth"] = "pytorch", [".safetensors"] = "pytorch",
    };

    /// <summary>Checks what can be checked before reading the body (extension, fields), so a bad request costs nothing.</summary>
    public static string CheckFields(ModelUpload upload)
    {
        var ext = Path.GetExtension(upload.FileName);
        if (!Formats.TryGetValue(ext, out var format))
            throw new RequestException($"Unsupported model file '{UploadNames.SafeName(upload.FileName)}': use .onnx, .dat, .pt, .pth or .safetensors.");
        if (format != "onnx" && string.IsNullOrWhiteSpace(upload.Architecture))
            throw RequestException.Invalid("architecture", $"A {ext} weight file needs an architecture.");
        if (upload.Accuracy is < 0 or > 100 || upload.Accuracy is double.NaN) throw RequestException.Invalid("accuracy", "accuracy must be a percentage between 0 and 100.");
        if (upload.Preprocessing is not (null or "" or "unit" or "imagenet")) throw RequestException.Invalid("preprocessing", "preprocessing must be unit or imagenet.");
        ParseShape(upload.InputShape);
        UploadNames.CheckGivenName("name", upload.Name);
        UploadNames.CheckGivenName("family", upload.Family);
        return format;
    }

    /// <summary>Keeps a file already streamed to the incoming folder (the multipart API reads the fields after the file).</summary>
    public async Task<ModelEntry> AddAsync(UploadWriter.Incoming incoming, ModelUpload upload, Caller caller, CancellationToken ct = default)
    {
        try
        {
            var format = CheckFields(upload);
            return await contentLocks.RunAsync(incoming.Sha256, () => KeepAsync(incoming, upload, format, caller, ct), ct);
        }
        finally { LocalFiles.TryDelete(incoming.TempPath); }
    }

    /// <summary>Under the content lock: an identical upload before this one (or on another node) is the answer.</summary>
    private async Task<ModelEntry> KeepAsync(UploadWriter.Incoming incoming, ModelUpload upload, string format, Caller caller, CancellationToken ct)
    {
        var ext = Path.GetExtension(upload.FileName).ToLowerInvariant();
        var id = "upload-" + incoming.Sha256[..12];
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (await db.Models.AsNoTracking().FirstOrDefaultAsync(m => m.Id == id, ct) is { } existing)
        {
            await files.RestoreAsync(incoming, existing.FileName, ct);
            return existing;
        }
        await quota.CheckAsync(caller, incoming.Length, ct);
        var fileName = incoming.Sha256 + ext;
        // Opened from this node's cache; it reaches the store (and other nodes) only once it proved usable.
        var finalPath = UploadWriter.Storage(() => files.Adopt(incoming.TempPath, incoming.Sha256, fileName));
        var given = ParseShape(upload.InputShape);
        var card = new ModelCard
        {
            Id = id,
            DisplayName = UploadNames.CleanName(upload.Name) ?? UploadNames.CleanName(Path.GetFileNameWithoutExtension(upload.FileName)) ?? id,
            Family = UploadNames.CleanName(upload.Family) ?? "Uploaded",
            Format = format,
            File = fileName,
            Architecture = string.IsNullOrWhiteSpace(upload.Architecture) ? null : upload.Architecture.Trim(),
            InputShape = given ?? [],
            Preprocessing = PreprocessingFor(upload.Preprocessing, given?[0] ?? 3),
            Accuracy = upload.Accuracy,
            Provenance = $"Uploaded as '{UploadNames.SafeName(upload.FileName)}'",
        };
        ModelInspection inspection;
        try
        {
            inspection = runner.InspectModel(finalPath, card);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            files.Evict(incoming.Sha256, fileName);
            var shown = UploadNames.SafeName(upload.FileName);
            throw RequestException.Unusable($"Not a usable model: {safeText.Clean(LibraryErrors.Describe(e).Replace(id, shown, StringComparison.Ordinal), (finalPath, shown))}");
        }
        var shape = inspection.InputShape.ToArray();
        if (shape.Length != 3)
        {
            files.Evict(incoming.Sha256, fileName);
            throw RequestException.Unusable($"Not a usable model: its input must be one image [C, H, W] per batch entry (got rank {shape.Length + 1}).");
        }
        if (shape.Any(d => d <= 0))
        {
            if (given is null)
            {
                files.Evict(incoming.Sha256, fileName);
                throw RequestException.Invalid("inputShape", $"The model's input size is not fixed ({string.Join("×", shape.Select(d => d <= 0 ? "?" : d.ToString(CultureInfo.InvariantCulture)))}); give inputShape as C,H,W.");
            }
            shape = given.Select(d => (long)d).ToArray();
        }
        card = card with
        {
            InputShape = shape.Select(d => (int)d).ToArray(),
            Preprocessing = PreprocessingFor(upload.Preprocessing, (int)shape[0]),
        };
        await UploadWriter.StorageAsync(() => files.PublishAsync(incoming.Sha256, finalPath, ct));
        var entry = new ModelEntry
        {
            Id = id, Name = card.DisplayName, Family = card.Family, Format = format, Architecture = card.Architecture, Source = Sources.Upload,
            FileName = fileName, CardJson = CardJson.Write(card), InputShape = CardJson.Shape(card.InputShape), Accuracy = upload.Accuracy,
            Provenance = card.Provenance, ContentHash = incoming.Sha256, SizeBytes = incoming.Length, AddedUtc = time.GetUtcNow().UtcDateTime,
            OwnerId = caller.UserId, OwnerName = caller.OwnerName, LayersJson = WriteLayers(inspection.Listing),
        };
        db.Models.Add(entry);
        try { await db.SaveChangesAsync(ct); }
        catch (DbUpdateException)
        {
            // Another node kept the same content first; its entry is as good as ours.
            if (await FindAsync(id, ct) is not { } stored) throw;
            return stored;
        }
        return entry;
    }

    /// <summary>Every model, the zoo's first, by name.</summary>
    public async Task<List<ModelEntry>> ListAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Models.AsNoTracking().OrderBy(m => m.Source).ThenBy(m => m.Name).ToListAsync(ct);
    }

    public async Task<ModelEntry?> FindAsync(string id, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Models.AsNoTracking().FirstOrDefaultAsync(m => m.Id == id, ct);
    }

    /// <summary>
    /// A model's measurable layers (<see cref="LayerListing"/>), or null for an unknown id. Uploads were listed when
    /// they were opened; a zoo model is opened by a worker the first time and its listing kept.
    /// </summary>
    public async Task<IReadOnlyList<LayerInfo>?> LayersAsync(string id, CancellationToken ct = default)
    {
        if (id.Length > UploadNames.MaxIdLength) return null;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var model = await db.Models.AsNoTracking().Where(m => m.Id == id)
            .FirstOrDefaultAsync(ct);
        if (model is null) return null;
        if (model.LayersJson is { } stored && ReadLayers(stored) is { } cached) return cached;
        IReadOnlyList<LayerInfo> listing;
        var path = model.FileName;
        try
        {
            var card = CardJson.Parse(model.CardJson);
            path = await files.LocalPathAsync(model, ct);
            listing = (await Task.Run(() => runner.InspectModel(path, card), ct)).Listing ?? [];
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw RequestException.Unusable($"The layers of model '{model.Name}' could not be listed: {safeText.Clean(LibraryErrors.Describe(e), (path, $"'{model.Name}'"))}");
        }
        await db.Models.Where(m => m.Id == id).ExecuteUpdateAsync(s => s.SetProperty(m => m.LayersJson, WriteLayers(listing)), ct);
        return listing;
    }

    private static string? WriteLayers(IReadOnlyList<LayerInfo>? listing) => listing is null ? null : JsonSerializer.Serialize(listing, ApiJson.Options);

    private static IReadOnlyList<LayerInfo>? ReadLayers(string json)
    {
        try { return JsonSerializer.Deserialize<List<LayerInfo>>(json, ApiJson.Options); }
        catch (JsonException) { return null; } // written by an older version: list again
    }

    public async Task<int> CountAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Models.CountAsync(ct);
    }

    /// <summary>How many runs measured this model (its card links to them).</summary>
    public async Task<int> RunCountAsync(string id, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Runs.CountAsync(r => r.ModelId == id, ct);
    }

    public async Task<bool> SetAccuracyAsync(string id, double? accuracy, Caller caller, CancellationToken ct = default)
    {
        if (accuracy is < 0 or > 100 || accuracy is double.NaN) throw RequestException.Invalid("accuracy", "accuracy must be a percentage between 0 and 100.");
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var owner = await db.Models.Where(m => m.Id == id).Select(m => new { m.OwnerId }).FirstOrDefaultAsync(ct);
        if (owner is null) return false;
        // Every correlation reads accuracies: a zoo model's is the admins' to change, an upload's its owner's.
        if (!caller.MayChange(owner.OwnerId)) throw RequestException.Forbidden($"Only {(owner.OwnerId is null ? "an admin" : "its owner or an admin")} may change this model's accuracy.");
        return await db.Models.Where(m => m.Id == id).ExecuteUpdateAsync(s => s.SetProperty(m => m.Accuracy, accuracy), ct) > 0;
    }

    internal static int[]? ParseShape(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var parts = text.Split([',', 'x', '×', ' '], StringSplitOptions.RemoveEmptyEntries);
        var dims = new List<int>();
        foreach (var p in parts)
            if (int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var d) && d is > 0 and <= 8192) dims.Add(d);
            else throw RequestException.Invalid("inputShape", $"inputShape must be C,H,W with positive integers (got '{UploadNames.SafeName(text)}').");
        if (dims.Count != 3) throw RequestException.Invalid("inputShape", $"inputShape must be C,H,W (got '{UploadNames.SafeName(text)}').");
        return dims.ToArray();
    }

    private static Preprocessing PreprocessingFor(string? kind, int channels) => (kind, channels) switch
    {
        ("imagenet", 3) => Preprocessing.ImageNet,
        (_, 1) => new Preprocessing { ChannelOrder = "L", Mean = [0], Std = [1] },
        _ => new Preprocessing(),
    };

    /// <summary>
    /// At start: upserts every zoo model (zoo folder */card.json) by id, its file kept in the store by content, so every
    /// node registers the same row (nothing in it is a node's path) and a node whose checkout matches changes nothing.
    /// An accuracy a user edited is kept.
    /// </summary>
    public async Task RegisterZooAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        if (!Directory.Exists(paths.ZooFolder))
        {
            zooLogger.LogWarning("Zoo folder {Folder} not found; no zoo models registered.", paths.ZooFolder);
            return;
        }
        foreach (var cardPath in Directory.EnumerateFiles(paths.ZooFolder, "card.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            ModelCard card;
            try { card = ModelCard.Load(cardPath); }
            catch (Exception e) { zooLogger.LogWarning("Skipping zoo card {Card}: {Message}", cardPath, e.Message); continue; }
            // A built-in control (format "builtin") has no file: the library builds it from its name.
            var builtin = card.Format == ModelLoader.BuiltinFormat;
            var file = builtin ? null : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(cardPath)!, card.File));
            if (file is not null && !File.Exists(file))
            {
                zooLogger.LogWarning("Skipping zoo model {Id}: its file {File} is missing.", card.Id, card.File);
                continue;
            }
            var fileName = file is null ? ModelLoader.BuiltinPrefix + (card.Architecture ?? card.Id) : Path.GetFileName(file);
            var hash = file is null ? null : await files.KeepAsync(file, ct);
            var entry = await db.Models.FirstOrDefaultAsync(m => m.Id == card.Id, ct);
            if (entry is null)
            {
                entry = new ModelEntry
                {
                    Id = card.Id, Name = card.DisplayName, Format = card.Format, Source = Sources.Zoo, FileName = fileName,
                    CardJson = CardJson.Write(card), InputShape = CardJson.Shape(card.InputShape), Accuracy = card.Accuracy,
                    AddedUtc = time.GetUtcNow().UtcDateTime,
                };
                db.Models.Add(entry);
            }
            else
            {
                // Keep an accuracy the user edited; follow the card when the stored value is still the card's.
                var previous = TryParse(entry.CardJson)?.Accuracy;
                if (entry.Accuracy == previous) entry.Accuracy = card.Accuracy;
            }
            // A changed card or file may change the layers: list them again when first asked for.
            if (entry.CardJson != CardJson.Write(card) || entry.ContentHash != hash) entry.LayersJson = null;
            entry.Name = card.DisplayName;
            entry.Family = card.Family;
            entry.Format = card.Format;
            entry.Architecture = card.Architecture;
            entry.Source = Sources.Zoo;
            entry.FileName = fileName;
            entry.LegacyPath = null;
            entry.ContentHash = hash;
            entry.CardJson = CardJson.Write(card);
            entry.InputShape = CardJson.Shape(card.InputShape);
            entry.AccuracyDataset = card.AccuracyDataset;
            entry.Provenance = card.Provenance;
            entry.SizeBytes = file is null ? 0 : new FileInfo(file).Length;
        }
        await db.SaveChangesAsync(ct);
    }

    private static ModelCard? TryParse(string json)
    {
        try { return CardJson.Parse(json); } catch (EquivarianceLabException) { return null; }
    }
}
