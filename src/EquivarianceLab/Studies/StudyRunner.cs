using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;

namespace EquivarianceLab.Studies;

public sealed record StudyRunOptions
{
    /// <summary>The studies' default number of probe images (the paper uses 2000; 500 keeps a study within minutes on two cores).</summary>
    public const int DefaultImages = 500;

    public int Images { get; init; } = DefaultImages;
    public int BatchSize { get; init; } = 32;
    public SimilarityKind Similarity { get; init; } = SimilarityKind.Pearson;
    /// <summary>The probe set for models whose card names none; null = the shipped Fashion-MNIST test images.</summary>
    public string? DefaultProbe { get; init; }
}

/// <summary>One measured model and family of a study: a <c>result.json</c> plus who it belongs to.</summary>
public sealed record StudyEntry
{
    public required string ModelId { get; init; }
    /// <summary>The slot's row label (<c>crop</c>, <c>k = 2</c>, …).</summary>
    public required string Label { get; init; }
    /// <summary>
    /// The setting this model is a seed replica of, named after its lowest-seed model (<see cref="StudyMember.Setting"/>);
    /// null in files written before seeds were grouped, where every model is a setting of its own.
    /// </summary>
    public string? Setting { get; init; }
    /// <summary>The card's training seed (null for the controls, featurizers and cards that record none).</summary>
    public int? Seed { get; init; }
    public string? DisplayName { get; init; }
    /// <summary>The card's accuracy in percent (null for the controls and featurizers).</summary>
    public double? Accuracy { get; init; }
    public string? AccuracyDataset { get; init; }
    public required MeasurementResult Result { get; init; }

    /// <summary>The name of the setting this model belongs to: <see cref="Setting"/>, else its own id.</summary>
    public string SettingName => Setting ?? ModelId;
}

/// <summary>A model or measurement of a study that failed; the others go on.</summary>
public sealed record StudyFailure(string ModelId, string? Transform, string Message);

/// <summary>One step of a study run, for progress reports.</summary>
public sealed record StudyStep(int Index, int Count, StudyMember Member, StudyMeasurement Measurement, string Probe);

/// <summary>What a study run reports as it goes.</summary>
public interface IStudyObserver
{
    /// <summary>A measurement starts; returns where its per-batch progress goes (or null).</summary>
    IProgress<MeasureProgress>? Starting(StudyStep step);
    void Finished(StudyStep step, StudyEntry entry);
    void Failed(StudyStep step, Exception error);
}

/// <summary>The outcome of a study run.</summary>
public sealed record StudyRun(ResolvedStudy Study, IReadOnlyList<StudyEntry> Entries, IReadOnlyList<StudyFailure> Failures);

/// <summary>Measures every model of a resolved study with every transform family of its definition.</summary>
public static class StudyRunner
{
    public static StudyRun Run(ResolvedStudy study, StudyRunOptions options, IStudyObserver? observer = null, CancellationToken cancellationToken = default)
    {
        if (options.Images < 1) throw new EquivarianceLabException($"--images must be at least 1 (got {options.Images}).");
        if (options.BatchSize < 1) throw new EquivarianceLabException($"--batch must be at least 1 (got {options.BatchSize}).");
        var fallbackProbe = options.DefaultProbe ?? Zoo.FashionMnistTestImages(study.Zoo.Folder);
        var measurements = study.Definition.Measurements;
        int count = study.Members.Count * measurements.Count, index = 0;
        var entries = new List<StudyEntry>();
        var failures = new List<StudyFailure>();

        foreach (var member in study.Members)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var entry = member.Entry;
            var probePath = study.Zoo.ProbeFor(entry, fallbackProbe);
            IFeatureModel? model = null;
            Probes.IProbeSet? probe = null;
            try
            {
                try
                {
                    (model, probe) = MeasurementInputs.Open(entry.Source, probePath, entry.Card);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    foreach (var m in measurements)
                        observer?.Failed(new StudyStep(index++, count, member, m, probePath), e);
                    failures.Add(new StudyFailure(entry.Id, null, Message(e)));
                    continue;
                }
                foreach (var m in measurements)
                {
                    var step = new StudyStep(index++, count, member, m, probePath);
                    var progress = observer?.Starting(step);
                    try
                    {
                        var result = EquivarianceMeasure.Run(model, probe, new MeasureOptions
                        {
                            Transform = m.Transform,
                            MaxShift = m.MaxShift,
                            Similarity = options.Similarity,
                            BatchSize = options.BatchSize,
                            Images = options.Images,
                        }, progress, cancellationToken);
                        var done = new StudyEntry
                        {
                            ModelId = entry.Id,
                            Label = member.Slot.Label,
                            Setting = member.Setting,
                            Seed = entry.Seed,
                            DisplayName = entry.Card?.DisplayName,
                            Accuracy = entry.Accuracy,
                            AccuracyDataset = entry.Card?.AccuracyDataset,
                            Result = result with { Model = entry.Id },
                        };
                        entries.Add(done);
                        observer?.Finished(step, done);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        failures.Add(new StudyFailure(entry.Id, m.TransformName, Message(e)));
                        observer?.Failed(step, e);
                    }
                }
            }
            finally
            {
                model?.Dispose();
                probe?.Dispose();
            }
        }
        return new StudyRun(study, entries, failures);
    }

    private static string Message(Exception e) =>
        e is EquivarianceLabException or IOException ? e.Message : $"{e.GetType().Name}: {Messages.FirstLine(e.Message)}";
}
