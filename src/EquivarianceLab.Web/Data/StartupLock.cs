using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;

namespace EquivarianceLab.Web.Data;

/// <summary>
/// Start-up work that must happen once however many nodes start together on one database — migrations, registering
/// the zoo and the built-in probe sets — runs under one lock: a PostgreSQL session advisory lock (released when its
/// connection closes, so a node that dies holding it frees it), or for SQLite an exclusive lock on a file beside the
/// database. The other nodes wait, then find the work done.
/// </summary>
public sealed class StartupLock(IDbContextFactory<AppDbContext> dbFactory, LabOptions options, LabPaths paths, ILogger<StartupLock> logger)
{
    /// <summary>The advisory lock's key: "EQLABSTR" read as a 64-bit number, so it cannot collide with other apps' small keys.</summary>
    private const long AdvisoryKey = 0x45514C4142535452;

    /// <summary>Applies the committed migrations (creating the database when it does not exist yet), under the lock.</summary>
    public Task MigrateAsync(CancellationToken ct) => RunAsync(ApplyMigrationsAsync, ct);

    /// <summary>Runs <paramref name="work"/> while holding the start-up lock.</summary>
    public async Task RunAsync(Func<CancellationToken, Task> work, CancellationToken ct)
    {
        if (DataExtensions.IsPostgres(options)) await RunOnPostgresAsync(work, ct);
        else await RunOnFileAsync(work, ct);
    }

    /// <summary>The migrations not yet applied: a node told not to migrate refuses to start while there are any.</summary>
    public async Task<IReadOnlyList<string>> PendingMigrationsAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return (await db.Database.GetPendingMigrationsAsync(ct)).ToList();
    }

    /// <summary>The migrations themselves; call it inside <see cref="RunAsync"/>.</summary>
    public async Task ApplyMigrationsAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        await db.Database.MigrateAsync(ct);
    }

    private async Task RunOnPostgresAsync(Func<CancellationToken, Task> work, CancellationToken ct)
    {
        await CreateDatabaseIfMissingAsync(ct);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync(ct);
        await ExecuteAsync(connection, "SELECT pg_advisory_lock(@key)", ct);
        try
        {
            await work(ct);
        }
        finally
        {
            await ExecuteAsync(connection, "SELECT pg_advisory_unlock(@key)", CancellationToken.None);
        }
    }

    /// <summary>
    /// The lock lives in the database, so the database must exist first. Nodes that start together may all try to
    /// create it; PostgreSQL lets one win and tells the others (42P04), which then use it.
    /// </summary>
    private async Task CreateDatabaseIfMissingAsync(CancellationToken ct)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var creator = db.GetService<IRelationalDatabaseCreator>();
        if (await creator.ExistsAsync(ct)) return;
        try
        {
            await creator.CreateAsync(ct);
            logger.LogInformation("Created the database.");
        }
        catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.DuplicateDatabase or PostgresErrorCodes.UniqueViolation)
        {
            // Another node created it a moment ago.
        }
    }

    private static async Task ExecuteAsync(DbConnection connection, string sql, CancellationToken ct)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var key = command.CreateParameter();
        key.ParameterName = "key";
        key.Value = AdvisoryKey;
        command.Parameters.Add(key);
        await command.ExecuteScalarAsync(ct);
    }

    private async Task RunOnFileAsync(Func<CancellationToken, Task> work, CancellationToken ct)
    {
        Directory.CreateDirectory(paths.DataFolder);
        var path = Path.Combine(paths.DataFolder, "startup.lock");
        FileStream? held = null;
        while (held is null)
        {
            try { held = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) { await Task.Delay(100, ct); } // another process holds it
        }
        await using (held)
            await work(ct);
    }
}
