using System.Reflection;

namespace EquivarianceLab.E2E.Infrastructure;

/// <summary>Where things are: the repository, the web app's build output, and the folder for test artifacts.</summary>
public static class Repo
{
    private static string Metadata(string key) =>
        typeof(Repo).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().First(a => a.Key == key).Value
        ?? throw new InvalidOperationException($"Assembly metadata {key} is missing.");

    /// <summary>The repository's top level (the app's content root).</summary>
    public static string Root { get; } = Path.GetFullPath(Metadata("RepositoryRoot"));

    /// <summary>src/EquivarianceLab.Web/bin/&lt;Configuration&gt;/net10.0/EquivarianceLab.Web.dll, built with this project.</summary>
    public static string WebAppDll { get; } = Metadata("WebAppDll");

    /// <summary>src/EquivarianceLab.Cli/bin/&lt;Configuration&gt;/net10.0/eqlab.dll, built with this project.</summary>
    public static string EqlabDll { get; } = Metadata("EqlabDll");

    /// <summary>tests/EquivarianceLab.E2E/TestResults: screenshots/ and logs/ of the last run (ignored by git).</summary>
    public static string Results { get; } = Path.Combine(Root, "tests", "EquivarianceLab.E2E", "TestResults");

    public static string Screenshots { get; } = Directory.CreateDirectory(Path.Combine(Results, "screenshots")).FullName;

    public static string Logs { get; } = Directory.CreateDirectory(Path.Combine(Results, "logs")).FullName;

    public static string FashionMnistTest { get; } = Path.Combine(Root, "models", "data", "fashion-mnist", "t10k-images-idx3-ubyte.gz");

    public static string NewTempFolder(string prefix)
    {
        var f = Path.Combine(Path.GetTempPath(), $"eqlab-e2e-{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(f);
        return f;
    }

    public static void TryDelete(string folder)
    {
        try { if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
