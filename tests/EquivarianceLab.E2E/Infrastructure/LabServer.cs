using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EquivarianceLab.E2E.Infrastructure;

/// <summary>
/// The web app as a real process on Kestrel: <c>dotnet EquivarianceLab.Web.dll --urls http://127.0.0.1:&lt;free port&gt;</c>
/// with its data and zoo folders given on the command line, the repository as content root (found by the app from
/// its build output), and the Production environment. Output goes to TestResults/logs/&lt;name&gt;.log.
/// </summary>
public sealed class LabServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly StringBuilder _tail = new();
    private readonly Lock _gate = new();

    public string Name { get; }
    public string DataFolder { get; }
    public Uri BaseUri { get; }
    public int ProcessId => _process.Id;
    public bool HasExited => _process.HasExited;

    private LabServer(string name, string dataFolder, Process process, StreamWriter log, Uri baseUri)
    {
        Name = name;
        DataFolder = dataFolder;
        _process = process;
        _log = log;
        BaseUri = baseUri;
    }

    /// <summary>Starts the app and waits until its API answers (migrations applied, zoo registered, recovery done).</summary>
    /// <param name="settings">Extra configuration, e.g. ["EquivarianceLab:MaxUploadBytes"] = "1048576".</param>
    public static async Task<LabServer> StartAsync(string name, string dataFolder, string zooFolder, IReadOnlyDictionary<string, string>? settings = null)
    {
        if (!File.Exists(Repo.WebAppDll))
            throw new InvalidOperationException($"The web app is not built: {Repo.WebAppDll} is missing (dotnet build EquivarianceLab.sln).");
        var port = FreePort();
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Repo.Root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Repo.WebAppDll);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add($"http://127.0.0.1:{port}");
        info.ArgumentList.Add($"--EquivarianceLab:DataFolder={dataFolder}");
        info.ArgumentList.Add($"--EquivarianceLab:ZooFolder={zooFolder}");
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) info.ArgumentList.Add($"--{key}={value}");
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        info.Environment.Remove("DOTNET_ENVIRONMENT");
        info.Environment.Remove("ASPNETCORE_URLS");
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["Logging__LogLevel__Default"] = "Information";
        info.Environment["Logging__LogLevel__Microsoft.AspNetCore"] = "Warning";

        var log = new StreamWriter(Path.Combine(Repo.Logs, $"{name}.log"), append: true) { AutoFlush = true };
        await log.WriteLineAsync($"=== {DateTime.UtcNow:O} dotnet {string.Join(' ', info.ArgumentList)}");
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var server = new LabServer(name, dataFolder, process, log, new Uri($"http://127.0.0.1:{port}/"));
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            // A worker node serves its health only.
            var worker = settings is not null && settings.TryGetValue("EquivarianceLab:Role", out var role) && role == "Worker";
            await server.WaitReadyAsync(TimeSpan.FromSeconds(120), worker ? "health/ready" : "api/probesets");
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_gate)
        {
            _log.WriteLine(line);
            _tail.AppendLine(line);
            if (_tail.Length > 20_000) _tail.Remove(0, _tail.Length - 20_000);
        }
    }

    /// <summary>The last lines the server wrote (for failure messages).</summary>
    public string LogTail
    {
        get { lock (_gate) return _tail.ToString(); }
    }

    public HttpClient CreateClient(TimeSpan? timeout = null) => new(new SocketsHttpHandler { AllowAutoRedirect = false })
    {
        BaseAddress = BaseUri,
        Timeout = timeout ?? TimeSpan.FromSeconds(100),
    };

    private async Task WaitReadyAsync(TimeSpan timeout, string probe)
    {
        using var client = CreateClient(TimeSpan.FromSeconds(5));
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"Server {Name} exited with code {_process.ExitCode} while starting:\n{LogTail}");
            try
            {
                using var r = await client.GetAsync(probe);
                if (r.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > until) throw new TimeoutException($"Server {Name} did not answer within {timeout.TotalSeconds:0} s:\n{LogTail}");
            await Task.Delay(250);
        }
    }

    /// <summary>SIGKILL, the whole process tree: what a crash or power loss leaves behind.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(30_000);
        Append($"=== killed (SIGKILL) at {DateTime.UtcNow:O}");
    }

    /// <summary>SIGTERM and wait for a graceful stop (SIGKILL after 20 s).</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited) return;
        using (var term = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false }))
            await term!.WaitForExitAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { Kill(); }
    }

    /// <summary>Current and peak resident memory of the server process, in bytes (from /proc).</summary>
    public (long Rss, long Peak) Memory()
    {
        long Read(string key)
        {
            foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
                if (line.StartsWith(key + ":", StringComparison.Ordinal))
                    return long.Parse(line[(key.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            return 0;
        }
        return (Read("VmRSS"), Read("VmHWM"));
    }

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(); }
        catch (InvalidOperationException) { }
        _process.Dispose();
        lock (_gate) _log.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
