using System.Diagnostics;

namespace EquivarianceLab.E2E.Infrastructure;

/// <summary>
/// What some tests need from Debian's registry (Chromium, PostgreSQL), installed by the tests themselves when they run
/// as root, so the README's test command needs nothing installed by hand; anyone else gets the one command to run.
/// </summary>
public static class DebianPackages
{
    private static readonly SemaphoreSlim Installing = new(1, 1);

    /// <summary>
    /// Installs <paramref name="package"/> unless <paramref name="installed"/> already holds; then checks it holds.
    /// <paramref name="need"/> says which tests need it, for the one-line message when it cannot be installed.
    /// </summary>
    public static async Task EnsureAsync(string package, Func<bool> installed, string need)
    {
        if (installed()) return;
        await Installing.WaitAsync();
        try
        {
            if (installed()) return;
            var hint = $"{need}: install it with 'apt-get install -y {package}' (as root the tests do this themselves).";
            if (Environment.UserName != "root" || !File.Exists("/usr/bin/apt-get")) throw new InvalidOperationException(hint);
            await RunAsync("/usr/bin/apt-get", "-o DPkg::Lock::Timeout=600 update -qq", hint);
            await RunAsync("/usr/bin/apt-get", $"-o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends {package}", hint);
            if (!installed()) throw new InvalidOperationException($"apt-get installed {package}, but it is still not found. {hint}");
        }
        finally { Installing.Release(); }
    }

    /// <summary>Runs a program to its end; a non-zero exit is an exception with what it printed.</summary>
    public static async Task RunAsync(string program, string arguments, string? hint = null)
    {
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"'{program} {arguments}' failed ({process.ExitCode}). {hint}\n{error}{await output}");
    }
}
