using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Runs;
using EquivarianceLab.Web.Workers;
using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.Storage.SQLite;

namespace EquivarianceLab.Web.Jobs;

public static class JobsExtensions
{
    /// <summary>Hangfire on its own SQLite file (or PostgreSQL), one worker serving the "gpu" queue, and the run services.</summary>
    public static IServiceCollection AddEquivarianceLabJobs(this IServiceCollection services, IConfiguration config, LabPaths paths, LabOptions options)
    {
        services.AddSingleton<RunProgressNotifier>();
        // Every node, also one without a job server: pages here see runs that worker nodes execute.
        services.AddHostedService<RunProgressRelay>();
        services.AddSingleton<CancellationRegistry>();
        services.AddSingleton(options.Worker);
        services.AddSingleton<WorkerProcess>();
        services.AddSingleton<IMeasurementRunner, WorkerRunner>();
        services.AddSingleton<RunService>();
        services.AddTransient<MeasurementJob>();

        services.AddHangfire(cfg =>
        {
            cfg.SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
               .UseSimpleAssemblyNameTypeSerializer()
               .UseRecommendedSerializerSettings();
            if (DataExtensions.IsPostgres(options))
            {
                var cs = config.GetConnectionString("Hangfire")
                         ?? throw new InvalidOperationException("EquivarianceLab:Database is PostgreSql but ConnectionStrings:Hangfire is not set.");
                cfg.UsePostgreSqlStorage(o => o.UseNpgsqlConnection(cs), new PostgreSqlStorageOptions
                {
                    QueuePollInterval = TimeSpan.FromSeconds(2),
                    // A measurement can take hours; RunService.RecoverAsync at start, not the invisibility timeout, handles dead workers.
                    InvisibilityTimeout = TimeSpan.FromDays(1),
                });
            }
            else
            {
                cfg.UseSQLiteStorage(paths.HangfireDatabase, new SQLiteStorageOptions
                {
                    QueuePollInterval = TimeSpan.FromSeconds(1),
                    InvisibilityTimeout = TimeSpan.FromDays(1),
                });
            }
        });
        if (options.RunWorker)
        {
            services.AddHangfireServer(o =>
            {
                o.ServerName = $"{Environment.MachineName}:gpu";
                o.Queues = [RunService.GpuQueue];
                o.WorkerCount = Math.Max(1, options.GpuWorkers);
            });
        }
        return services;
    }
}
