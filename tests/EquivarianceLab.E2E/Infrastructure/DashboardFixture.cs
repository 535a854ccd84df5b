using Microsoft.Playwright;

namespace EquivarianceLab.E2E.Infrastructure;

/// <summary>
/// One server (fresh data folder, a zoo of three tiny control CNNs with accuracies and the built-in probe set) and
/// one Chromium for the browser tests of the "dashboard" collection.
/// </summary>
public sealed class DashboardFixture : IAsyncLifetime
{
    public TestZoo Zoo { get; } = new();
    public string DataFolder { get; } = Repo.NewTempFolder("data");
    public LabServer Server { get; private set; } = null!;
    public IPlaywright Playwright { get; private set; } = null!;
    public IBrowser Browser { get; private set; } = null!;
    public HttpClient Api { get; private set; } = null!;

    /// <summary>The zoo: three tiny CNNs (4 channels, milliseconds per run) and a wider one (64 channels, seconds for 1000 images).</summary>
    public static readonly (string Id, string Name, double Accuracy, int Seed, int Channels)[] Models =
    [
        ("tiny-a", "Tiny CNN A", 71.5, 1, 4),
        ("tiny-b", "Tiny CNN B", 83.0, 2, 4),
        ("tiny-c", "Tiny CNN C", 90.2, 3, 4),
        ("wide-d", "Wide CNN D", 77.7, 4, 64),
    ];

    public async Task InitializeAsync()
    {
        foreach (var m in Models) Zoo.AddTinyCnn(m.Id, m.Name, m.Accuracy, m.Seed, m.Channels);
        Server = await LabServer.StartAsync("dashboard", DataFolder, Zoo.Folder);
        Api = Server.CreateClient();
        (Playwright, Browser) = await Chromium.LaunchAsync();
    }

    public Task<IBrowserContext> NewContextAsync() => Chromium.NewContextAsync(Browser, Server.BaseUri);

    public async Task DisposeAsync()
    {
        Api?.Dispose();
        if (Browser is not null) await Browser.DisposeAsync();
        Playwright?.Dispose();
        if (Server is not null) await Server.DisposeAsync();
        Repo.TryDelete(DataFolder);
        Zoo.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class DashboardCollection : ICollectionFixture<DashboardFixture>
{
    public const string Name = "dashboard";
}
