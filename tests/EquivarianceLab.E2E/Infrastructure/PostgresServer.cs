using System.Net;
using System.Net.Sockets;

namespace EquivarianceLab.E2E.Infrastructure;

/// <summary>
/// A real PostgreSQL server of the tests' own: Debian's PostgreSQL binaries, a fresh cluster in a temporary folder
/// (trust authentication, loopback only, a free port), stopped and deleted at the end. As root on Debian the binaries
/// are installed when missing (from Debian's registry, as the browser tests install Chromium), so the README's test
/// command needs nothing installed by hand; anyone else is told the one command to run. PostgreSQL refuses to run as
/// root, so the cluster belongs to the <c>postgres</c> user the package creates.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    private string _folder = "";
    private string _bin = "";

    public int Port { get; private set; }

    /// <summary>A connection string for <paramref name="database"/> on this server (created on first use by whoever connects to it).</summary>
    public string ConnectionString(string database) => $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database}";

    /// <summary>A new, empty database name (the app's migrations create it).</summary>
    public static string NewDatabaseName(string prefix) => $"{prefix}_{Guid.NewGuid():N}";

    public async Task InitializeAsync()
    {
        _bin = await EnsureInstalledAsync();
        _folder = Path.Combine(Path.GetTempPath(), $"eqlab-pg-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_folder);
        await DebianPackages.RunAsync("/bin/chown", $"postgres:postgres {_folder}");
        Port = FreePort();
        var data = Path.Combine(_folder, "data");
        await RunAsPostgresAsync(Path.Combine(_bin, "initdb"), $"-D {data} --auth=trust --username=postgres --encoding=UTF8 --no-sync");
        await RunAsPostgresAsync(Path.Combine(_bin, "pg_ctl"),
            $"-D {data} -l {Path.Combine(_folder, "server.log")} -w -t 60 -o \"-p {Port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={_folder} -c fsync=off -c max_connections=200\" start");
    }

    public async Task DisposeAsync()
    {
        if (_folder.Length == 0) return;
        try { await RunAsPostgresAsync(Path.Combine(_bin, "pg_ctl"), $"-D {Path.Combine(_folder, "data")} -m immediate -w stop"); }
        catch (InvalidOperationException) { }
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>The folder of Debian's PostgreSQL binaries (the newest installed version), installing them as root when missing.</summary>
    private static async Task<string> EnsureInstalledAsync()
    {
        await DebianPackages.EnsureAsync("postgresql", () => Find() is not null,
            "The PostgreSQL tests need Debian's PostgreSQL server binaries (/usr/lib/postgresql/*/bin)");
        return Find()!;
    }

    private static string? Find() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(v => Path.Combine(v, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "initdb"))).OrderByDescending(b => b, StringComparer.Ordinal).FirstOrDefault()
            : null;

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static Task RunAsPostgresAsync(string program, string arguments) =>
        Environment.UserName == "root" ? DebianPackages.RunAsync("/usr/sbin/runuser", $"-u postgres -- {program} {arguments}") : DebianPackages.RunAsync(program, arguments);
}
