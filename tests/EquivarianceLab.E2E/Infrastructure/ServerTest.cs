namespace EquivarianceLab.E2E.Infrastructure;

/// <summary>A test class with one server process of its own: a fresh data folder, a test zoo with the models it adds, started once for the class's tests.</summary>
public abstract class ServerTest(string name) : IAsyncLifetime
{
    protected TestZoo Zoo { get; } = new();
    protected string DataFolder { get; } = Repo.NewTempFolder(name);
    protected LabServer Server { get; private set; } = null!;

    /// <summary>The zoo models the server registers at start.</summary>
    protected abstract void AddModels(TestZoo zoo);

    /// <summary>Extra configuration for the server.</summary>
    protected virtual IReadOnlyDictionary<string, string>? Settings => null;

    public async Task InitializeAsync()
    {
        AddModels(Zoo);
        Server = await LabServer.StartAsync(name, DataFolder, Zoo.Folder, Settings);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Repo.TryDelete(DataFolder);
        Zoo.Dispose();
    }
}
