using EquivarianceLab.Web.Accounts;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Data;

/// <summary>
/// The app database. Each provider has its own subclass so each keeps its own committed migrations
/// (Data/Migrations/Sqlite, Data/Migrations/PostgreSql); pages and jobs only see this base type.
/// </summary>
public abstract class AppDbContext(DbContextOptions options) : IdentityDbContext<LabUser, IdentityRole, string>(options)
{
    public DbSet<ApiToken> ApiTokens => Set<ApiToken>();
    public DbSet<ModelEntry> Models => Set<ModelEntry>();
    public DbSet<ProbeSetEntry> ProbeSets => Set<ProbeSetEntry>();
    public DbSet<Run> Runs => Set<Run>();
    public DbSet<LayerScore> LayerScores => Set<LayerScore>();
    public DbSet<TransformScore> TransformScores => Set<TransformScore>();
    public DbSet<PartScoreRow> PartScores => Set<PartScoreRow>();

    protected override void OnModelCreating(ModelBuilder b)
    {
        // Identity's own tables (users, roles, claims, logins) first.
        base.OnModelCreating(b);
        b.Entity<ApiToken>(e =>
        {
            e.HasIndex(t => t.Hash).IsUnique();
            e.Property(t => t.Hash).HasMaxLength(64);
            e.Property(t => t.Name).HasMaxLength(120);
            e.HasOne<LabUser>().WithMany().HasForeignKey(t => t.UserId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<ModelEntry>(e =>
        {
            e.HasKey(m => m.Id);
            e.Property(m => m.Id).HasMaxLength(128);
        });
        b.Entity<ProbeSetEntry>(e =>
        {
            e.HasKey(p => p.Id);
            e.Property(p => p.Id).HasMaxLength(128);
        });
        b.Entity<Run>(e =>
        {
            // Stored as text so the database stays readable and provider-neutral.
            e.Property(r => r.Status).HasConversion<string>().HasMaxLength(16);
            e.HasIndex(r => r.Status);
            e.HasIndex(r => new { r.Transform, r.ProbeSetId });
            // Runs keep their model/probe rows: a catalogue entry with runs cannot be deleted.
            e.HasOne(r => r.Model).WithMany().HasForeignKey(r => r.ModelId).OnDelete(DeleteBehavior.Restrict);
            e.HasOne(r => r.ProbeSet).WithMany().HasForeignKey(r => r.ProbeSetId).OnDelete(DeleteBehavior.Restrict);
            e.HasMany(r => r.Layers).WithOne().HasForeignKey(l => l.RunId).OnDelete(DeleteBehavior.Cascade);
            e.HasMany(r => r.Parts).WithOne().HasForeignKey(p => p.RunId).OnDelete(DeleteBehavior.Cascade);
            // Every write of a worker's result is conditional on the fence it claimed with (Runs/RunService.Leases.cs).
            e.Property(r => r.Fence).IsConcurrencyToken();
            e.Property(r => r.Queue).HasMaxLength(16);
            e.HasIndex(r => new { r.Status, r.LeaseExpiresUtc });
            e.Ignore(r => r.Progress);
            e.Ignore(r => r.IsActive);
            e.Ignore(r => r.ModelFileChanged);
            e.Ignore(r => r.MeasuredModelHash);
        });
        b.Entity<LayerScore>(e =>
        {
            e.HasIndex(l => new { l.RunId, l.Index }).IsUnique();
            e.HasMany(l => l.PerTransform).WithOne().HasForeignKey(t => t.LayerScoreId).OnDelete(DeleteBehavior.Cascade);
        });
        b.Entity<PartScoreRow>(e => e.HasIndex(p => new { p.RunId, p.Part }).IsUnique());
    }
}

public sealed class SqliteAppDbContext(DbContextOptions<SqliteAppDbContext> options) : AppDbContext(options);

public sealed class PostgresAppDbContext(DbContextOptions<PostgresAppDbContext> options) : AppDbContext(options);

/// <summary>Hands out the provider's context as the shared base type.</summary>
internal sealed class AppDbContextFactory<TContext>(IDbContextFactory<TContext> inner) : IDbContextFactory<AppDbContext>
    where TContext : AppDbContext
{
    public AppDbContext CreateDbContext() => inner.CreateDbContext();
}

/// <summary>For <c>dotnet ef migrations add … --context SqliteAppDbContext</c>.</summary>
internal sealed class SqliteDesignTimeFactory : Microsoft.EntityFrameworkCore.Design.IDesignTimeDbContextFactory<SqliteAppDbContext>
{
    public SqliteAppDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteAppDbContext>().UseSqlite("Data Source=design.db").Options);
}

/// <summary>For <c>dotnet ef migrations add … --context PostgresAppDbContext</c> (no server needed to generate).</summary>
internal sealed class PostgresDesignTimeFactory : Microsoft.EntityFrameworkCore.Design.IDesignTimeDbContextFactory<PostgresAppDbContext>
{
    public PostgresAppDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresAppDbContext>().UseNpgsql("Host=localhost;Database=equivariancelab").Options);
}
