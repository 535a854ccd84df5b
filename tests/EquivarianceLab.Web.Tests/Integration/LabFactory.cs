using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Runs;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// The real app (real SQLite files, real Hangfire server on its SQLite storage) in a fresh temp data folder.
/// With a <see cref="IMeasurementRunner"/> given, the library is replaced by it; otherwise the real adapter runs.
/// </summary>
public sealed class LabFactory(string dataFolder, string zooFolder, IMeasurementRunner? runner = null, int maxRestarts = 1,
    IReadOnlyDictionary<string, string>? settings = null, Action<IServiceCollection>? services = null) : WebApplicationFactory<Program>
{
    public string DataFolder { get; } = dataFolder;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        // The app's errors go to a file CI prints on failure, named by the test's data folder (which names the test class).
        builder.ConfigureLogging(logging => logging.AddProvider(new ServerErrorLog(Path.GetFileName(DataFolder))));
        builder.UseSetting("EquivarianceLab:DataFolder", DataFolder);
        builder.UseSetting("EquivarianceLab:ZooFolder", zooFolder);
        builder.UseSetting("EquivarianceLab:MaxRestarts", maxRestarts.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("EquivarianceLab:MaxUploadBytes", (4 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) builder.UseSetting(key, value);
        if (runner is not null) builder.ConfigureTestServices(s => s.AddSingleton(runner));
        if (services is not null) builder.ConfigureTestServices(services);
    }

    public static string NewFolder(string prefix)
    {
        var f = Path.Combine(Path.GetTempPath(), $"eqlab-{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(f);
        return f;
    }

    public static string RepositoryRoot() =>
        EquivarianceLab.FeatureModels.RepositoryPaths.Root ?? throw new InvalidOperationException("Repository root not found.");

    /// <summary>A zoo with the built-in probe set only (copied from the repository) and no models.</summary>
    public static string ZooWithFashionMnist()
    {
        var zoo = NewFolder("zoo");
        var src = Path.Combine(RepositoryRoot(), "models", "data", "fashion-mnist", "t10k-images-idx3-ubyte.gz");
        var dst = Path.Combine(zoo, "data", "fashion-mnist");
        Directory.CreateDirectory(dst);
        File.Copy(src, Path.Combine(dst, Path.GetFileName(src)));
        return zoo;
    }

    /// <summary>A built-in control (no file: its card names it, format "builtin", and the library builds it).</summary>
    public static void AddBuiltinControl(string zoo, string id, string name)
    {
        var dir = Directory.CreateDirectory(Path.Combine(zoo, id)).FullName;
        File.WriteAllText(Path.Combine(dir, "card.json"), $$$"""
            {"id":"{{{id}}}","displayName":"{{{name}}}","family":"Control","format":"builtin","file":"",
             "architecture":"{{{id}}}","inputShape":[1,28,28],
             "preprocessing":{"channelOrder":"L","scale":0.00392156862745098,"mean":[0],"std":[1]}}
            """);
    }

    public static void AddZooModel(string zoo, string id, string name, double accuracy, byte[] onnx)
    {
        var dir = Path.Combine(zoo, id);
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), onnx);
        File.WriteAllText(Path.Combine(dir, "card.json"), $$"""
            {"id":"{{id}}","displayName":"{{name}}","family":"Control","format":"onnx","file":"model.onnx","inputShape":[1,28,28],
             "preprocessing":{"channelOrder":"L","scale":0.00392156862745098,"mean":[0],"std":[1]},"accuracy":{{accuracy.ToString(System.Globalization.CultureInfo.InvariantCulture)}},"accuracyDataset":"Fashion-MNIST test"}
            """);
    }

    /// <summary>Polls <c>GET /api/runs/{id}</c> until the run is no longer queued or running (at most 3 minutes).</summary>
    public static async Task<JsonElement> WaitForRunAsync(HttpClient client, int id)
    {
        JsonElement run;
        var until = DateTime.UtcNow.AddMinutes(3);
        do
        {
            await Task.Delay(200);
            run = await client.GetFromJsonAsync<JsonElement>($"/api/runs/{id}");
        } while (run.GetProperty("status").GetString() is "queued" or "running" && DateTime.UtcNow < until);
        return run;
    }

    public static void TryDelete(params string[] folders)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var f in folders)
        {
            try { Directory.Delete(f, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
