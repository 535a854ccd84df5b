using EquivarianceLab.Web.ProbeSets;
using EquivarianceLab.Cards;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Startup;

/// <summary>At start: upserts every zoo model (models/*/card.json) by id and registers the built-in probe set.</summary>
public sealed class ZooRegistrar(IDbContextFactory<AppDbContext> dbFactory, LabPaths paths, TimeProvider time, ILogger<ZooRegistrar> logger)
{
    public const string FashionMnistId = "fashion-mnist-test";
    public const string FashionMnistName = "Fashion-MNIST test (10k)";
    public static string FashionMnistRelative { get; } = Path.Combine("data", "fashion-mnist", "t10k-images-idx3-ubyte.gz");

    public async Task RegisterAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await RegisterModelsAsync(db, ct);
        await RegisterFashionMnistAsync(db, ct);
        await db.SaveChangesAsync(ct);
    }

    private async Task RegisterModelsAsync(AppDbContext db, CancellationToken ct)
    {
        if (!Directory.Exists(paths.ZooFolder))
        {
            logger.LogWarning("Zoo folder {Folder} not found; no zoo models registered.", paths.ZooFolder);
            return;
        }
        foreach (var cardPath in Directory.EnumerateFiles(paths.ZooFolder, "card.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            ModelCard card;
            try { card = ModelCard.Load(cardPath); }
            catch (Exception e) { logger.LogWarning("Skipping zoo card {Card}: {Message}", cardPath, e.Message); continue; }
            // A built-in control (format "builtin") has no file: the library builds it from its name.
            var builtin = card.Format == ModelLoader.BuiltinFormat;
            var file = builtin
                ? ModelLoader.BuiltinPrefix + (card.Architecture ?? card.Id)
                : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(cardPath)!, card.File));
            if (!builtin && !File.Exists(file))
            {
                logger.LogWarning("Skipping zoo model {Id}: its file {File} is missing.", card.Id, card.File);
                continue;
            }
            var entry = await db.Models.FirstOrDefaultAsync(m => m.Id == card.Id, ct);
            if (entry is null)
            {
                entry = new ModelEntry
                {
                    Id = card.Id, Name = card.DisplayName, Format = card.Format, Source = Sources.Zoo, FilePath = file,
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
            entry.Name = card.DisplayName;
            entry.Family = card.Family;
            entry.Format = card.Format;
            entry.Architecture = card.Architecture;
            entry.Source = Sources.Zoo;
            entry.FilePath = file;
            entry.CardJson = CardJson.Write(card);
            entry.InputShape = CardJson.Shape(card.InputShape);
            entry.AccuracyDataset = card.AccuracyDataset;
            entry.Provenance = card.Provenance;
            entry.SizeBytes = builtin ? 0 : new FileInfo(file).Length;
        }
    }

    private async Task RegisterFashionMnistAsync(AppDbContext db, CancellationToken ct)
    {
        var path = Path.Combine(paths.ZooFolder, FashionMnistRelative);
        if (!File.Exists(path))
        {
            logger.LogWarning("Built-in probe set {Path} not found.", path);
            return;
        }
        var entry = await db.ProbeSets.FirstOrDefaultAsync(p => p.Id == FashionMnistId, ct);
        var thumbs = Path.Combine(paths.Thumbnails, FashionMnistId);
        var (count, h, w, samples) = Idx.ReadImages(path, ProbeSetService.ThumbnailCount);
        if (entry is null)
        {
            entry = new ProbeSetEntry
            {
                Id = FashionMnistId, Name = FashionMnistName, Kind = "idx", Source = Sources.BuiltIn, FilePath = path,
                AddedUtc = time.GetUtcNow().UtcDateTime,
            };
            db.ProbeSets.Add(entry);
        }
        entry.FilePath = path;
        entry.Count = count;
        entry.ImageShape = $"1×{h}×{w}";
        entry.SizeBytes = new FileInfo(path).Length;
        if (!await db.ProbeSets.AnyAsync(p => p.IsDefault && p.Id != FashionMnistId, ct)) entry.IsDefault = true;
        if (!File.Exists(Path.Combine(thumbs, "0.png")) || entry.Thumbnails == 0)
            entry.Thumbnails = Thumbnails.Write(thumbs, samples, [1, h, w]);
    }

    private static ModelCard? TryParse(string json)
    {
        try { return CardJson.Parse(json); } catch (EquivarianceLabException) { return null; }
    }
}
