using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Data;

public static class DataExtensions
{
    /// <summary>EF Core on SQLite (a file in the data folder) or PostgreSQL, each with its own committed migrations.</summary>
    public static IServiceCollection AddEquivarianceLabData(this IServiceCollection services, IConfiguration config, LabPaths paths, LabOptions options)
    {
        if (IsPostgres(options))
        {
            var cs = config.GetConnectionString("App")
                     ?? throw new InvalidOperationException("EquivarianceLab:Database is PostgreSql but ConnectionStrings:App is not set.");
            services.AddDbContextFactory<PostgresAppDbContext>(o => o.UseNpgsql(cs));
            services.AddSingleton<IDbContextFactory<AppDbContext>, AppDbContextFactory<PostgresAppDbContext>>();
        }
        else
        {
            var cs = config.GetConnectionString("App") ?? $"Data Source={paths.AppDatabase}";
            services.AddDbContextFactory<SqliteAppDbContext>(o => o.UseSqlite(cs));
            services.AddSingleton<IDbContextFactory<AppDbContext>, AppDbContextFactory<SqliteAppDbContext>>();
        }
        services.AddSingleton<StartupLock>();
        return services;
    }

    public static bool IsPostgres(LabOptions options) =>
        options.Database.Equals("PostgreSql", StringComparison.OrdinalIgnoreCase) || options.Database.Equals("Postgres", StringComparison.OrdinalIgnoreCase);
}
