using EquivarianceLab.Cards;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Jobs;

namespace EquivarianceLab.Web.Tests.Fakes;

/// <summary>A runner that hands everything to <see cref="Inner"/>; a test overrides only what it changes.</summary>
public abstract class DelegatingRunner : IMeasurementRunner
{
    public IMeasurementRunner Inner { get; set; } = null!;

    public virtual ModelInspection InspectModel(string path, ModelCard card) => Inner.InspectModel(path, card);
    public virtual ProbeInspection InspectProbeSet(string path, int samples) => Inner.InspectProbeSet(path, samples);
    public IReadOnlyList<string> Architectures => Inner.Architectures;

    public virtual MeasurementResult Measure(string modelPath, ModelCard card, string probePath, MeasureOptions options, LayerChoice? layers,
        IProgress<MeasureProgress> progress, CancellationToken cancellationToken) =>
        Inner.Measure(modelPath, card, probePath, options, layers, progress, cancellationToken);

    public virtual FeatureMapPair FeatureMaps(string modelPath, ModelCard card, string probePath, MeasureOptions options, FeatureMapRequest request,
        CancellationToken cancellationToken) =>
        Inner.FeatureMaps(modelPath, card, probePath, options, request, cancellationToken);
}
