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

    /// <summary>A run whose worker died (its lease ran out) is queued again this many times, then marked failed.</summary>
    public int MaxRestarts { get; set; } = 1;

    /// <summary>What this node does: pages and API, measurement jobs, or both (one machine).</summary>
    public NodeRole Role { get; set; } = NodeRole.Both;

    /// <summary>Measurements one worker node runs at once (default one: a measurement uses every core).</summary>
    public int ConcurrentRuns { get; set; } = 1;

    /// <summary>Where uploaded models, probe sets, the zoo's files and thumbnails are kept, by content.</summary>
    public StorageOptions Storage { get; set; } = new();

    /// <summary>How long a worker owns a running run without renewing it (docs/deploy.md, "Leases").</summary>
    public LeaseOptions Leases { get; set; } = new();

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

/// <summary>A node's part in a lab: <c>Both</c> on one machine; on a cluster one or more <c>Ui</c> nodes and any number of <c>Worker</c> nodes.</summary>
public enum NodeRole { Both, Ui, Worker }

/// <summary>The content-addressed store (docs/deploy.md): a folder (local, or a mount every node shares) or an S3 bucket.</summary>
public sealed class StorageOptions
{
    public const string FolderKind = "Folder", S3Kind = "S3";

    /// <summary>Folder (default) or S3.</summary>
    public string Kind { get; set; } = FolderKind;

    /// <summary>The folder store's root; default "store" under the data folder. Relative paths are under the content root.</summary>
    public string? Folder { get; set; }

    public S3StoreOptions S3 { get; set; } = new();

    public bool IsS3 => Kind.Equals(S3Kind, StringComparison.OrdinalIgnoreCase);
}

/// <summary>Any S3-compatible object store (AWS S3, MinIO, Ceph, Garage, …); the bucket is created when missing.</summary>
public sealed class S3StoreOptions
{
    /// <summary>The endpoint, e.g. http://minio:9000; empty for AWS S3 itself (then <see cref="Region"/> picks the endpoint).</summary>
    public string? ServiceUrl { get; set; }
    public string Bucket { get; set; } = "equivariancelab";
    /// <summary>Both or neither: without them the SDK's usual sources (environment, instance role) are used.</summary>
    public string? AccessKey { get; set; }
    public string? SecretKey { get; set; }
    public string Region { get; set; } = "us-east-1";
    /// <summary>Files above this many MiB go up in parts of this size (S3's smallest part is 5 MiB).</summary>
    public int PartSizeMiB { get; set; } = 64;
}

/// <summary>
/// A running run belongs to one worker process for <see cref="Duration"/> after its last heartbeat; when that passes
/// (the process died), any node queues the run again. Hangfire's invisibility timeout is the same duration.
/// </summary>
public sealed class LeaseOptions
{
    public TimeSpan Duration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often a worker renews its runs' leases, and how often every node looks for expired ones.</summary>
    public TimeSpan Heartbeat { get; set; } = TimeSpan.FromSeconds(15);
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

    /// <summary>Compute threads of a worker (ONNX Runtime, libtorch, the similarity kernel); 0 = one per core.</summary>
    public int Threads { get; set; }

    /// <summary>
    /// <c>auto</c> (default): serve the <c>gpu</c> queue where ONNX Runtime's CUDA execution provider is usable here;
    /// <c>cpu</c>: never touch a GPU; <c>cuda</c>: a GPU is required, and the node refuses to start without one. A run
    /// is measured on the device its queue names (docs/gpu.md).
    /// </summary>
    public string Device { get; set; } = Workers.WorkerDevices.AutoName;
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
    /// <summary>The folder store's root (<see cref="StorageOptions.Folder"/>).</summary>
    public string Store { get; } = Path.GetFullPath(Path.Combine(contentRoot, options.DataFolder, options.Storage.Folder ?? "store"));
    /// <summary>This node's copies of stored files, named as the loaders expect; disposable.</summary>
    public string Cache => Path.Combine(DataFolder, "cache");
    public string Incoming => Path.Combine(DataFolder, "incoming");
    public string AppDatabase => Path.Combine(DataFolder, "equivariancelab.db");
    public string HangfireDatabase => Path.Combine(DataFolder, "hangfire.db");

    public void EnsureCreated()
    {
        foreach (var d in new[] { DataFolder, Cache, Incoming }) Directory.CreateDirectory(d);
    }
}
