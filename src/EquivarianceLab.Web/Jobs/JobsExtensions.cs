using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Runs;
using EquivarianceLab.Web.Workers;
using Hangfire;
using Hangfire.PostgreSql;
using Hangfire.Storage.SQLite;

namespace EquivarianceLab.Web.Jobs;

public static class JobsExtensions
{
    /// <summary>
    /// Hangfire on its own SQLite file (or PostgreSQL); on a node that runs jobs, a server for the queues this process
    /// can serve (cpu, and gpu first where a GPU is usable); the run services and the lease sweeper.
    /// </summary>
    public static IServiceCollection AddEquivarianceLabJobs(this IServiceCollection services, IConfiguration config, LabPaths paths, LabOptions options)
    {
        services.AddSingleton<RunProgressNotifier>();
        services.AddSingleton<RunChangeSignal>();
        // Every node, also one without a job server: pages here see runs that worker nodes execute.
        services.AddHostedService<RunProgressRelay>();
        // Every node takes back runs whose worker died: a lab with one worker left still recovers its runs.
        services.AddHostedService<RunLeaseSweeper>();
        services.AddSingleton<WorkerIdentity>();
        services.AddSingleton<CancellationRegistry>();
        services.AddSingleton(options.Worker);
        services.AddSingleton<WorkerProcess>();
        services.AddSingleton<IMeasurementRunner, WorkerRunner>();
        services.AddSingleton<RunService>();
        services.AddSingleton<FeatureMapService>();
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
                    // The lease and the invisibility timeout agree: a fetched job stays invisible while its server's
                    // heartbeat renews it (sliding), and a job fetched by a process that died becomes visible again
                    // after one lease — a run claimed by then is taken back by the lease sweeper, and the old job, whose
                    // attempt token is stale, does nothing.
                    InvisibilityTimeout = options.Leases.Duration,
                    UseSlidingInvisibilityTimeout = true,
                });
            }
            else
            {
                cfg.UseSQLiteStorage(paths.HangfireDatabase, new SQLiteStorageOptions
                {
                    QueuePollInterval = TimeSpan.FromSeconds(1),
                    // One lease, as on PostgreSQL; a job fetched again while its run is still running finds nothing to claim.
                    InvisibilityTimeout = options.Leases.Duration,
                });
            }
        });
        if (options.Role != NodeRole.Ui)
        {
            services.AddHangfireServer((provider, o) =>
            {
                var worker = provider.GetRequiredService<WorkerIdentity>();
                o.ServerName = worker.Id;
                o.Queues = worker.Queues;
                o.WorkerCount = options.ConcurrentRuns;
            });
        }
        return services;
    }
}
