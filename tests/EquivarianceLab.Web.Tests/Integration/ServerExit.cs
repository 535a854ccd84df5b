using System.Diagnostics;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>The real server process started with one setting, for the settings it must refuse at start.</summary>
internal static class ServerExit
{
    /// <summary>Starts the web app (as <c>dotnet EquivarianceLab.Web.dll</c>) on an empty data folder with
    /// <paramref name="key"/> set, waits up to a minute for it to exit, and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Stderr, string Stdout)> WithSettingAsync(string folderName, string key, string value)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "EquivarianceLab.Web.dll");
        var data = LabFactory.NewFolder(folderName);
        try
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            start.ArgumentList.Add(dll);
            start.ArgumentList.Add("--urls");
            start.ArgumentList.Add("http://127.0.0.1:0");
            start.Environment["EquivarianceLab__DataFolder"] = data;
            start.Environment[key] = value;
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await process.WaitForExitAsync(timeout.Token);
            return (process.ExitCode, await stderr, await stdout);
        }
        finally
        {
            LabFactory.TryDelete(data);
        }
    }
}
