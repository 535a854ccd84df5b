namespace EquivarianceLab.Web;

/// <summary>The <c>EquivarianceLab</c> configuration section (top-level appsettings.json, environment, command line).</summary>
public sealed class LabOptions
{
    public const string Section = "EquivarianceLab";

    /// <summary>App database, Hangfire storage and uploads live here; relative paths are under the content root.</summary>
    public string DataFolder { get; set; } = "data";

    /// <summary>The model zoo (models/&lt;id&gt;/card.json); relative paths are under the content root.</summary>
    public string ZooFolder { get; set; } = "models";

    /// <summary>Sqlite (default) or PostgreSql; PostgreSql takes ConnectionStrings:App and ConnectionStrings:Hangfire.</summary>
    public string Database { get; set; } = "Sqlite";

    /// <summary>Largest accepted upload in bytes (models and probe sets).</summary>
    public long MaxUploadBytes { get; set; } = 2L << 30;

    /// <summary>Runs a worker machine finds "running" after a crash are re-queued this many times, then marked failed.</summary>
    public int MaxRestarts { get; set; } = 1;

    /// <summary>Hangfire workers for the gpu queue (default one: a measurement uses every core, so one heavy job at a time).</summary>
    public int GpuWorkers { get; set; } = 1;

    /// <summary>Set false to run the web UI without a Hangfire server (a pure front end beside remote workers).</summary>
    public bool RunWorker { get; set; } = true;

    /// <summary>
    /// Apply pending migrations at start (under the start-up lock, so nodes may start together). Set false where
    /// <c>eqlab db migrate</c> is a deployment step of its own: the node then refuses to start while migrations are pending.
    /// </summary>
    public bool MigrateAtStart { get; set; } = true;

    /// <summary>Architectures offered for weight uploads besides the library's own and those of registered models.</summary>
    public string[] Architectures { get; set; } = [];

    /// <summary>Limits on probe archives (uploads and measurements), against zip bombs and oversized images.</summary>
    public ProbeArchiveLimits ProbeLimits { get; set; } = new();

    /// <summary>Limits of the worker process that opens uploads and measures (memory, time, threads).</summary>
    public WorkerLimits Worker { get; set; } = new();

    /// <summary>Who may do what: accounts, anonymous reading, trusted proxies.</summary>
    public AccessOptions Access { get; set; } = new();

    /// <summary>Requests one client (by address) may make per minute: queueing runs, and uploads. Over it: 429.</summary>
    public RateLimits RateLimits { get; set; } = new();

    /// <summary>Who may open the Hangfire dashboard at /hangfire: local requests only, unless credentials are set.</summary>
    public DashboardAccess HangfireDashboard { get; set; } = new();
}

/// <summary>The library's <see cref="EquivarianceLab.Probes.ProbeLimits"/>, configurable (defaults are the library's).</summary>
public sealed class ProbeArchiveLimits
{
    private static readonly EquivarianceLab.Probes.ProbeLimits Defaults = EquivarianceLab.Probes.ProbeLimits.Default;
    public int MaxEntries { get; set; } = Defaults.MaxEntries;
    public long MaxUncompressedBytes { get; set; } = Defaults.MaxUncompressedBytes;
    public double MaxCompressionRatio { get; set; } = Defaults.MaxCompressionRatio;
    public long MaxImagePixels { get; set; } = Defaults.MaxImagePixels;
    public long MaxTotalPixels { get; set; } = Defaults.MaxTotalPixels;

    public EquivarianceLab.Probes.ProbeLimits ToLibrary() => new()
    {
        MaxEntries = MaxEntries, MaxUncompressedBytes = MaxUncompressedBytes, MaxCompressionRatio = MaxCompressionRatio, MaxImagePixels = MaxImagePixels,
        MaxTotalPixels = MaxTotalPixels,
    };
}

/// <summary>
/// What the OS lets one worker process use. Opening an upload and measuring run in a child process (the app's own
/// entry point with the argument <c>worker</c>), so a hostile or merely huge file can exhaust only that process.
/// </summary>
public sealed class WorkerLimits
{
    /// <summary>Memory cap of a worker in MiB: RLIMIT_DATA (its heap and private writable memory), set before it starts.</summary>
    public int MemoryLimitMiB { get; set; } = 8192;

    /// <summary>Wall-clock budget of one measurement; over it, the worker is killed and the run fails.</summary>
    public TimeSpan RunTimeLimit { get; set; } = TimeSpan.FromHours(2);

    /// <summary>Wall-clock budget for opening an uploaded model or probe set.</summary>
    public TimeSpan ValidationTimeLimit { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Compute threads of a worker (libtorch, OpenMP); 0 = one per core.</summary>
    public int Threads { get; set; }
}

/// <summary>
/// Access. Without accounts and listening on loopback only, the local user is the admin without signing in (the
/// one-command default); listening on any other address, or with <see cref="RequireAccounts"/>, everyone signs in.
/// </summary>
public sealed class AccessOptions
{
    /// <summary>Anyone who can reach the server may read (pages, shared links, GET on the API) without an account.</summary>
    public bool AnonymousRead { get; set; } = true;

    /// <summary>Accounts even on loopback (no implicit local admin).</summary>
    public bool RequireAccounts { get; set; }

    /// <summary>Reverse proxies (IP addresses) whose X-Forwarded-For/-Proto are believed; no other request's headers are.</summary>
    public string[] KnownProxies { get; set; } = [];
}

/// <summary>Per-client request budgets (the built-in rate limiter, a fixed window of one minute per client address).</summary>
public sealed class RateLimits
{
    public int RunsPerMinute { get; set; } = 120;
    public int UploadsPerMinute { get; set; } = 30;

    /// <summary>Any API request, per account (or per address for anonymous readers), per minute.</summary>
    public int ApiRequestsPerMinute { get; set; } = 600;

    /// <summary>Runs one account may have queued or running at once (the local admin has no quota).</summary>
    public int MaxActiveRunsPerUser { get; set; } = 200;

    /// <summary>Bytes one account may upload (models and probe sets kept) in any 24 hours.</summary>
    public long UploadBytesPerDay { get; set; } = 20L << 30;
}

/// <summary>
/// Hangfire dashboard access. Without credentials only requests from the loopback address (and not forwarded by a
/// proxy) get in; with <see cref="User"/> and <see cref="Password"/> set, every request must send them (HTTP Basic).
/// </summary>
public sealed class DashboardAccess
{
    public string? User { get; set; }
    public string? Password { get; set; }
    public bool HasCredentials => !string.IsNullOrEmpty(User) && !string.IsNullOrEmpty(Password);
}

/// <summary>Resolved absolute folders.</summary>
public sealed class LabPaths(string contentRoot, LabOptions options)
{
    public string ContentRoot { get; } = contentRoot;
    public string DataFolder { get; } = Path.GetFullPath(Path.Combine(contentRoot, options.DataFolder));
    public string ZooFolder { get; } = Path.GetFullPath(Path.Combine(contentRoot, options.ZooFolder));
    public string ModelFiles => Path.Combine(DataFolder, "models");
    public string ProbeFiles => Path.Combine(DataFolder, "probesets");
    public string Thumbnails => Path.Combine(DataFolder, "thumbnails");
    public string Incoming => Path.Combine(DataFolder, "incoming");
    public string AppDatabase => Path.Combine(DataFolder, "equivariancelab.db");
    public string HangfireDatabase => Path.Combine(DataFolder, "hangfire.db");

    public void EnsureCreated()
    {
        foreach (var d in new[] { DataFolder, ModelFiles, ProbeFiles, Thumbnails, Incoming }) Directory.CreateDirectory(d);
    }
}
