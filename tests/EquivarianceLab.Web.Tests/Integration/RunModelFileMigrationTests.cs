using EquivarianceLab.Web.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// Upgrading a real SQLite database made before runs recorded their model file: migration <c>RunModelFile</c> gives
/// every existing run the hash its model's file has at that moment — before the new release registers its zoo — so a
/// zoo checkpoint replaced by the release shows as changed for the runs measured with the old one.
/// </summary>
public sealed class RunModelFileMigrationTests : IDisposable
{
    private readonly string _folder = LabFactory.NewFolder("run-model-file-migration");

    public void Dispose() => LabFactory.TryDelete(_folder);

    [Fact]
    public async Task Existing_runs_take_the_hash_their_models_file_had_when_the_database_was_upgraded()
    {
        var options = new DbContextOptionsBuilder<SqliteAppDbContext>().UseSqlite($"Data Source={Path.Combine(_folder, "lab.db")};Pooling=False").Options;
        await using (var db = new SqliteAppDbContext(options))
        {
            var migrator = db.GetService<IMigrator>();
            var all = db.Database.GetMigrations().ToList();
            var previous = all[all.FindIndex(m => m.EndsWith("_RunModelFile", StringComparison.Ordinal)) - 1];
            await migrator.MigrateAsync(previous);
            // The schema of the release before: models with and without a stored file, and runs of each.
            // ExecuteSqlRaw formats its text: the cards' braces are doubled.
            await db.Database.ExecuteSqlRawAsync("""
                INSERT INTO "ProbeSets" ("Id", "Name", "Kind", "Source", "FileName", "Count", "ImageShape", "IsDefault", "Thumbnails", "SizeBytes", "AddedUtc", "ContentHash")
                VALUES ('p', 'Probe', 'idx', 'builtin', 'p.gz', 10, '1×28×28', 1, 0, 1, '2026-12-01 00:00:00', 'pppp');
                INSERT INTO "Models" ("Id", "Name", "Family", "Format", "Source", "FileName", "CardJson", "InputShape", "SizeBytes", "AddedUtc", "ContentHash")
                VALUES ('vit', 'ViT', 'ViT', 'torchsharp', 'zoo', 'model.dat', '{{}}', '1×28×28', 1, '2026-12-01 00:00:00', 'old-vit-file'),
                       ('control', 'Control', 'Control', 'builtin', 'zoo', 'builtin:control', '{{}}', '1×28×28', 0, '2026-12-01 00:00:00', NULL);
                INSERT INTO "Runs" ("ModelId", "ProbeSetId", "Transform", "Similarity", "MaxShift", "Status", "ImagesDone", "ImagesTotal",
                                    "AttemptToken", "Queue", "Fence", "Restarts", "CancelRequested", "CreatedUtc")
                VALUES ('vit', 'p', 'rotation', 'pearson', 16, 2, 10, 10, 'x', 'cpu', 1, 0, 0, '2026-12-01 00:00:00'),
                       ('control', 'p', 'rotation', 'pearson', 16, 2, 10, 10, 'y', 'cpu', 1, 0, 0, '2026-12-01 00:00:00');
                """);
            await migrator.MigrateAsync();
        }

        await using (var db = new SqliteAppDbContext(options))
        {
            var runs = await db.Runs.Include(r => r.Model).OrderBy(r => r.Id).ToListAsync();
            Assert.Equal(["old-vit-file", null], runs.Select(r => r.ModelContentHash));
            Assert.All(runs, r => Assert.False(r.ModelFileChanged));
            // The new release registers another file for the ViT: its old run now says so; the control's cannot change.
            runs[0].Model!.ContentHash = "new-vit-file";
            await db.SaveChangesAsync();
        }
        await using (var db = new SqliteAppDbContext(options))
        {
            var runs = await db.Runs.Include(r => r.Model).OrderBy(r => r.Id).ToListAsync();
            Assert.Equal([true, false], runs.Select(r => r.ModelFileChanged));
        }
    }
}
