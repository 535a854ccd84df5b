using EquivarianceLab.Cards;
using EquivarianceLab.Measure;

namespace EquivarianceLab.Web.Jobs;

/// <summary>
/// Stand-in compiled only while the library's loaders and measure are not in the tree yet (see the csproj);
/// every call fails with a clear message so the app still starts and shows it.
/// </summary>
public sealed class MeasurementRunner : IMeasurementRunner
{
    private const string Missing = "The measurement library is not built into this app yet.";
    public ModelInspection InspectModel(string path, ModelCard card) => throw new EquivarianceLabException(Missing);
    public ProbeInspection InspectProbeSet(string path, int samples) => throw new EquivarianceLabException(Missing);
    public MeasurementResult Measure(string modelPath, ModelCard card, string probePath, MeasureOptions options,
        IProgress<MeasureProgress> progress, CancellationToken cancellationToken) => throw new EquivarianceLabException(Missing);
    public Correlation Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        var r = EquivarianceLab.Statistics.Spearman.Compute(x, y);
        return new Correlation(r.Rho, r.N, r.PValue, r.Reason);
    }
}
