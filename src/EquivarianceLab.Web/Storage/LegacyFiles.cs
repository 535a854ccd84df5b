using EquivarianceLab.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Storage;

/// <summary>
/// Moves what an older version kept by path (uploads under the data folder, thumbnails per probe set) into the store,
/// once, at start: the migration to the store kept the old path as <c>LegacyPath</c> because it cannot hash files.
/// A file that is not on this node stays recorded until a node that has it starts.
/// </summary>
public sealed class LegacyFiles(IDbContextFactory<AppDbContext> dbFactory, StoredFiles files, LabPaths paths, ILogger<LegacyFiles> logger)
{
    public async Task MoveIntoStoreAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        foreach (var model in await db.Models.Where(m => m.LegacyPath != null).ToListAsync(ct))
        {
            if (await KeepAsync(model.LegacyPath!, ct) is not { } hash) continue;
            (model.ContentHash, model.FileName, model.LegacyPath) = (hash, Path.GetFileName(model.LegacyPath!), null);
        }
        foreach (var probe in await db.ProbeSets.Where(p => p.LegacyPath != null).ToListAsync(ct))
        {
            if (await KeepAsync(probe.LegacyPath!, ct) is not { } hash) continue;
            (probe.ContentHash, probe.FileName, probe.LegacyPath) = (hash, Path.GetFileName(probe.LegacyPath!), null);
            // Thumbnails were PNGs named 0.png, 1.png, … in a folder per probe set.
            var folder = Path.Combine(paths.DataFolder, "thumbnails", probe.Id);
            var hashes = new List<string>();
            for (var i = 0; i < probe.Thumbnails && File.Exists(Path.Combine(folder, $"{i}.png")); i++)
                hashes.Add(await files.KeepAsync(await File.ReadAllBytesAsync(Path.Combine(folder, $"{i}.png"), ct), ProbeSets.Thumbnails.FileName, ct));
            probe.ThumbnailHashes = string.Join(' ', hashes);
            probe.Thumbnails = hashes.Count;
        }
        await db.SaveChangesAsync(ct);
    }

    private async Task<string?> KeepAsync(string path, CancellationToken ct)
    {
        if (File.Exists(path)) return await files.KeepAsync(path, ct);
        logger.LogWarning("A file recorded by an older version is not on this node; it moves into the store when a node that has it starts.");
        return null;
    }
}
