using EquivarianceLab.Cards;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;

namespace EquivarianceLab.Web.Jobs;

/// <summary>What opening a model told us: enough to store it and show its card, and its layer listing.</summary>
public sealed record ModelInspection(IReadOnlyList<long> InputShape, int Layers, string? LogitsLayer, IReadOnlyList<LayerInfo>? Listing = null);

/// <summary>
/// The layers a run measures: null <see cref="Layers"/> is the model's default selection; <see cref="Logits"/> names
/// the layer holding the logits (the Final part) when not the model's own.
/// </summary>
public sealed record LayerChoice(IReadOnlyList<string>? Layers, string? Logits)
{
    public static readonly LayerChoice Default = new(null, null);
}

/// <summary>
/// What opening a probe set told us (its image shape [C, H, W]), plus a few images for thumbnails, each of
/// <paramref name="SampleShape"/> (an image archive's samples are scaled down to a thumbnail size).
/// </summary>
public sealed record ProbeInspection(int Count, IReadOnlyList<long> ImageShape, IReadOnlyList<float[]> Samples, IReadOnlyList<long> SampleShape);

/// <summary>
/// The app's only door into the measurement library for what touches files (model loading, probe sets, the measure),
/// so the web layer can be tested with a fake. Statistics on numbers already in the database (the correlation
/// study) call the library directly in the web process: no untrusted file is involved.
/// </summary>
public interface IMeasurementRunner
{
    /// <summary>
    /// Opens the model as a measurement would and lists its layers (<see cref="LayerListing"/>); throws
    /// <see cref="EquivarianceLabException"/> with a clear message if it cannot.
    /// </summary>
    ModelInspection InspectModel(string path, ModelCard card);

    /// <summary>
    /// Opens a probe set (.npy, IDX, .zip of images) and reads up to <paramref name="samples"/> images. An image archive
    /// must hold images of one size (and stay within the configured archive limits).
    /// </summary>
    ProbeInspection InspectProbeSet(string path, int samples);

    /// <summary>The architectures a weight file (.dat, .pt, .pth, .safetensors) can be loaded into.</summary>
    IReadOnlyList<string> Architectures { get; }

    /// <summary>Measures the model's <paramref name="layers"/> (null: its default selection) on the probe set.</summary>
    MeasurementResult Measure(string modelPath, ModelCard card, string probePath, MeasureOptions options, LayerChoice? layers,
        IProgress<MeasureProgress> progress, CancellationToken cancellationToken);

    /// <summary>
    /// One probe image's feature maps for the viewer (<see cref="EquivarianceLab.Measure.FeatureMaps"/>): channel c of f(gX) beside its
    /// partner in g·f(X), with their similarities, computed with a run's model, probe set and settings (the model opened
    /// with the requested layer only). The grids are numbers; the app draws them.
    /// </summary>
    FeatureMapPair FeatureMaps(string modelPath, ModelCard card, string probePath, MeasureOptions options, FeatureMapRequest request,
        CancellationToken cancellationToken);
}
