using EquivarianceLab.Cards;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Jobs;

namespace EquivarianceLab.Web.Workers;

/// <summary>
/// The app's runner: everything that opens a model or probe-set file runs in a worker process under the configured
/// limits (<see cref="WorkerProcess"/>), so the web process never loads an uploaded graph or array itself. Statistics
/// on numbers already stored stay in process.
/// </summary>
public sealed class WorkerRunner(WorkerProcess workers, LabOptions options) : IMeasurementRunner
{
    private WorkerLimits Limits => options.Worker;

    public IReadOnlyList<string> Architectures => EquivarianceLab.Architectures.ArchitectureRegistry.Names;

    public ModelInspection InspectModel(string path, ModelCard card) =>
        workers.Run(Request(WorkerTask.InspectModel) with { ModelPath = path, CardJson = CardJson.Write(card) },
            Limits.ValidationTimeLimit, null, CancellationToken.None).Model
        ?? throw new WorkerFailedException("The worker gave no description of the model.");

    public ProbeInspection InspectProbeSet(string path, int samples) =>
        workers.Run(Request(WorkerTask.InspectProbeSet) with { ProbePath = path, Samples = samples },
            Limits.ValidationTimeLimit, null, CancellationToken.None).ProbeSet
        ?? throw new WorkerFailedException("The worker gave no description of the probe set.");

    public MeasurementResult Measure(string modelPath, ModelCard card, string probePath, MeasureOptions measureOptions, LayerChoice? layers,
        IProgress<MeasureProgress> progress, CancellationToken cancellationToken)
    {
        var answer = workers.Run(
            Request(WorkerTask.Measure) with
            {
                ModelPath = modelPath, CardJson = CardJson.Write(card), ProbePath = probePath, Options = measureOptions,
                Layers = layers?.Layers, Logits = layers?.Logits,
            },
            Limits.RunTimeLimit, progress.Report, cancellationToken);
        return MeasurementResult.FromJson(answer.Result ?? throw new WorkerFailedException("The worker gave no result."));
    }

    /// <summary>Under the validation time limit: one image through the model twice, a small fraction of a run.</summary>
    public FeatureMapPair FeatureMaps(string modelPath, ModelCard card, string probePath, MeasureOptions measureOptions, FeatureMapRequest request,
        CancellationToken cancellationToken) =>
        workers.Run(
            Request(WorkerTask.FeatureMaps) with
            {
                ModelPath = modelPath, CardJson = CardJson.Write(card), ProbePath = probePath, Options = measureOptions, FeatureMap = request,
            },
            Limits.ValidationTimeLimit, null, cancellationToken).FeatureMaps
        ?? throw new WorkerFailedException("The worker gave no feature maps.");

    private WorkerRequest Request(WorkerTask task) => new() { Task = task, Limits = options.ProbeLimits.ToLibrary() };
}
