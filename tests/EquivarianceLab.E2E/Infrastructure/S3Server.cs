using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace EquivarianceLab.E2E.Infrastructure;

/// <summary>
/// A real S3 API server of the tests' own: s3rver, an S3 emulator on Node.js, pinned by
/// tests/EquivarianceLab.E2E/S3Server/package-lock.json and started by its start.js on a free loopback port with a
/// fresh data folder, killed and its folder deleted at the end. <c>npm ci</c> installs it the first time into a cache
/// folder outside the source tree (one per lock file, so later runs reuse it with no network); Node.js and npm are
/// installed from Debian's registry when missing, as root (as the browser and PostgreSQL tests install theirs), so the
/// README's test command needs nothing installed by hand; anyone else is told the one command to run.
/// s3rver has one account, <see cref="AccessKey"/>/<see cref="SecretKey"/>, and does not check SigV4 signatures. It
/// cannot decode aws-chunked uploads (the AWS SDK's default for PutObject and UploadPart), so start.js refuses them
/// with 501 NotImplemented: see S3ServerTests.NewClient for the client settings that work.
/// </summary>
public sealed partial class S3Server : IAsyncLifetime
{
    private static readonly SemaphoreSlim Installing = new(1, 1);
    private static readonly string Sources = Path.Combine(Repo.Root, "tests", "EquivarianceLab.E2E", "S3Server");

    private readonly StringBuilder _output = new();
    private Process? _process;
    private string _folder = "";

    public int Port { get; private set; }

    /// <summary>http://127.0.0.1:PORT, for <c>AmazonS3Config.ServiceURL</c> (path-style: there is no DNS for bucket subdomains).</summary>
    public string ServiceUrl => $"http://127.0.0.1:{Port}";

    /// <summary>s3rver's one account (lib/models/account.js); any other key is InvalidAccessKeyId.</summary>
    public string AccessKey => "S3RVER";

    public string SecretKey => "S3RVER";

    /// <summary>A new bucket name: <paramref name="prefix"/> (lower-case letters, digits, hyphens) and a unique suffix.</summary>
    public string NewBucketName(string prefix)
    {
        if (!BucketPrefix().IsMatch(prefix)) throw new ArgumentException($"'{prefix}' is not a bucket name prefix: 1-30 of a-z, 0-9 and '-', starting with a letter or digit.", nameof(prefix));
        if (Port == 0) throw new InvalidOperationException("The S3 server is not started.");
        return $"{prefix}-{Guid.NewGuid():N}";
    }

    public async Task InitializeAsync()
    {
        var (node, modules) = await EnsureInstalledAsync();
        _folder = Repo.NewTempFolder("s3");
        Port = FreePort();
        var start = new ProcessStartInfo(node) { RedirectStandardOutput = true, RedirectStandardError = true };
        // s3rver makes ListObjectsV2 continuation tokens with DES, which Node 17+ has only with the legacy provider.
        start.ArgumentList.Add("--openssl-legacy-provider");
        start.ArgumentList.Add(Path.Combine(Sources, "start.js"));
        foreach (var argument in new[] { "--address", "127.0.0.1", "--port", $"{Port}", "--directory", Path.Combine(_folder, "data"), "--silent", "--exit-with", $"{Environment.ProcessId}" })
            start.ArgumentList.Add(argument);
        start.Environment["NODE_PATH"] = modules;
        _process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {node}.");
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await WaitUntilAnswersAsync(TimeSpan.FromSeconds(60));
    }

    public async Task DisposeAsync()
    {
        if (_process is not null)
        {
            try
            {
                if (!_process.HasExited) _process.Kill(entireProcessTree: true);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (InvalidOperationException) { }
            catch (OperationCanceledException) { }
            _process.Dispose();
        }
        if (_folder.Length > 0) Repo.TryDelete(_folder);
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    private string Output()
    {
        lock (_output) return _output.ToString();
    }

    private async Task WaitUntilAnswersAsync(TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            if (_process!.HasExited)
                throw new InvalidOperationException($"s3rver exited ({_process.ExitCode}) before answering on port {Port}:\n{Output()}");
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline) { await Task.Delay(100); }
            catch (SocketException e) { throw new InvalidOperationException($"s3rver did not answer on port {Port} within {limit.TotalSeconds} s ({e.Message}):\n{Output()}"); }
        }
    }

    /// <summary>
    /// node, and the node_modules folder with s3rver: installed by <c>npm ci</c> from the committed lock file into
    /// $TMPDIR/eqlab-e2e-s3rver/&lt;lock file hash&gt; unless a finished install is there already. One install at a time,
    /// in this process (a semaphore) and across test processes (an exclusive lock file).
    /// </summary>
    private static async Task<(string Node, string Modules)> EnsureInstalledAsync()
    {
        await DebianPackages.EnsureAsync("nodejs npm", () => OnPath("node") is not null && OnPath("npm") is not null,
            "The S3 tests need Node.js and npm (they run s3rver, an S3 emulator, from the npm registry)");
        var node = OnPath("node")!;
        var lockFile = Path.Combine(Sources, "package-lock.json");
        var hash = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(lockFile)))[..16];
        var cache = Path.Combine(Path.GetTempPath(), "eqlab-e2e-s3rver", hash);
        var modules = Path.Combine(cache, "node_modules");
        var done = Path.Combine(cache, "installed");
        if (File.Exists(done)) return (node, modules);
        await Installing.WaitAsync();
        try
        {
            Directory.CreateDirectory(cache);
            await using var exclusive = await LockAsync(Path.Combine(cache, "install.lock"), TimeSpan.FromMinutes(10));
            if (File.Exists(done)) return (node, modules);
            File.Copy(Path.Combine(Sources, "package.json"), Path.Combine(cache, "package.json"), overwrite: true);
            File.Copy(lockFile, Path.Combine(cache, "package-lock.json"), overwrite: true);
            // --prefer-offline: npm's own cache first, so an install can be redone without the network once it has run.
            await DebianPackages.RunAsync(OnPath("npm")!, $"ci --prefix {cache} --prefer-offline --ignore-scripts --no-audit --no-fund --loglevel=error",
                $"The S3 tests install s3rver from the npm registry into {cache} (npm ci, from {lockFile}).");
            if (!File.Exists(Path.Combine(modules, "s3rver", "lib", "s3rver.js")))
                throw new InvalidOperationException($"npm ci finished, but {modules} has no s3rver.");
            await File.WriteAllTextAsync(done, lockFile);
            return (node, modules);
        }
        finally { Installing.Release(); }
    }

    /// <summary>An exclusive lock on <paramref name="path"/> (advisory, held until disposed), waiting for another holder.</summary>
    private static async Task<FileStream> LockAsync(string path, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (DateTime.UtcNow < deadline) { await Task.Delay(500); }
        }
    }

    private static string? OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, program)).FirstOrDefault(File.Exists);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,29}$")]
    private static partial Regex BucketPrefix();
}
