using EquivarianceLab.Web.Tests.Fakes;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// The real app over a fresh data folder and a zoo of the built-in probe set plus the models given, with the library
/// faked (<see cref="FakeMeasurementRunner"/>): for tests of the API and pages that need no real measurement.
/// </summary>
public sealed class FakeLab : IAsyncDisposable
{
    /// <summary>What the fake runner accepts as an ONNX file (a ModelProto field 1 tag).</summary>
    public static readonly byte[] FakeOnnx = [0x08, 0x07, 0x12, 0x04, 0x74, 0x65, 0x73, 0x74];

    private readonly string _zoo;
    private readonly LabFactory _factory;

    public string DataFolder => _factory.DataFolder;
    public string ZooFolder => _zoo;
    public HttpClient Client { get; }
    public FakeMeasurementRunner Runner { get; } = new();
    public IServiceProvider Services => _factory.Services;

    /// <param name="models">Zoo models as (id, name, accuracy).</param>
    public FakeLab(string prefix, params (string Id, string Name, double Accuracy)[] models)
    {
        _zoo = LabFactory.ZooWithFashionMnist();
        foreach (var (id, name, accuracy) in models) LabFactory.AddZooModel(_zoo, id, name, accuracy, FakeOnnx);
        _factory = new LabFactory(LabFactory.NewFolder(prefix), _zoo, Runner);
        Client = _factory.CreateClient();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _factory.DisposeAsync();
        LabFactory.TryDelete(_factory.DataFolder, _zoo);
    }
}
