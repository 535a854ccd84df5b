using EquivarianceLab.Cards;
using EquivarianceLab.Measure;

namespace EquivarianceLab.Web.Jobs;

/// <summary>What opening a model told us: enough to store it and show its card.</summary>
public sealed record ModelInspection(IReadOnlyList<long> InputShape, int Layers, string? LogitsLayer);

/// <summary>What opening a probe set told us, plus a few images (values in [0, 1], [C, H, W]) for thumbnails.</summary>
public sealed record ProbeInspection(int Count, IReadOnlyList<long> ImageShape, IReadOnlyList<float[]> Samples);

/// <summary>Spearman's ρ with n and the two-sided p-value; no ρ when <see cref="Reason"/> says why.</summary>
public sealed record Correlation(double? Rho, int N, double? PValue, string? Reason);

/// <summary>
/// The app's only door into the measurement library (model loading, probe sets, the measure, statistics),
/// so the web layer can be tested with a fake and never depends on library internals.
/// </summary>
public interface IMeasurementRunner
{
    /// <summary>Opens the model as a measurement would; throws <see cref="EquivarianceLabException"/> with a clear message if it cannot.</summary>
    ModelInspection InspectModel(string path, ModelCard card);

    /// <summary>Opens a probe set (.npy, IDX, .zip of images) and reads up to <paramref name="samples"/> images.</summary>
    ProbeInspection InspectProbeSet(string path, int samples);

    MeasurementResult Measure(string modelPath, ModelCard card, string probePath, MeasureOptions options,
        IProgress<MeasureProgress> progress, CancellationToken cancellationToken);

    Correlation Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y);
}
