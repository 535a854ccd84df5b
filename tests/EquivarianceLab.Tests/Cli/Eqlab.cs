using System.Diagnostics;

namespace EquivarianceLab.Tests.Cli;

/// <summary>The result of one run of the real <c>eqlab</c>.</summary>
public sealed record EqlabRun(int ExitCode, string Stdout, string Stderr, string[] Args)
{
    /// <summary>The non-empty lines written to stderr.</summary>
    public string[] StderrLines => Stderr.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToArray();

    public override string ToString() =>
        $"eqlab {string.Join(' ', Args)}\nexit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// Runs the built command-line tool (<c>eqlab.dll</c>, which the test project references) as a separate process:
/// <c>dotnet eqlab.dll …</c>, stdout and stderr captured, killed after five minutes (a hang, not a slow machine: evaluating a zoo model takes minutes on a loaded 2-core machine).
/// </summary>
public static class Eqlab
{
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(5);

    /// <summary>eqlab.dll beside the test assembly, else in the Cli project's own build output.</summary>
    public static string Dll { get; } = FindDll();

    public static EqlabRun Run(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = System.Text.Encoding.UTF8,
            StandardErrorEncoding = System.Text.Encoding.UTF8,
        };
        start.ArgumentList.Add(Dll);
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment.Remove("EQLAB_DEBUG"); // the stack-trace switch must be off for these tests

        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start dotnet.");
        process.StandardInput.Close();
        // Read on threads of their own: under a full test run the thread pool can be too busy to finish an async
        // read within the wait below (seen: a study's stdout "(not read)" after it had exited).
        var stdout = Task.Factory.StartNew(process.StandardOutput.ReadToEnd, TaskCreationOptions.LongRunning);
        var stderr = Task.Factory.StartNew(process.StandardError.ReadToEnd, TaskCreationOptions.LongRunning);
        if (!process.WaitForExit(Timeout))
        {
            try { process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { }
            process.WaitForExit();
            throw new TimeoutException($"eqlab {string.Join(' ', args)} did not finish within {Timeout.TotalSeconds:0} s.\nstdout: {Finish(stdout)}\nstderr: {Finish(stderr)}");
        }
        process.WaitForExit(); // flushes the redirected streams
        return new EqlabRun(process.ExitCode, Finish(stdout), Finish(stderr), args);
    }

    private static string Finish(Task<string> read) => read.Wait(TimeSpan.FromSeconds(10)) ? read.Result : "(not read)";

    /// <summary>The dotnet host that runs these tests (the SDK sets DOTNET_HOST_PATH), else dotnet on the PATH.</summary>
    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    private static string FindDll()
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "eqlab.dll");
        if (File.Exists(beside)) return beside;
        var root = FeatureModels.RepositoryPaths.Root
                   ?? throw new InvalidOperationException("eqlab.dll is not beside the tests and the repository root was not found.");
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
            ? "Release" : "Debug";
        var candidates = new[] { configuration, configuration == "Debug" ? "Release" : "Debug" }
            .Select(c => Path.Combine(root, "src", "EquivarianceLab.Cli", "bin", c, "net10.0", "eqlab.dll"))
            .Where(File.Exists)
            .ToList();
        return candidates.Count > 0
            ? candidates[0]
            : throw new InvalidOperationException($"eqlab.dll not found beside the tests ({AppContext.BaseDirectory}) or under src/EquivarianceLab.Cli/bin; build the solution first.");
    }
}
