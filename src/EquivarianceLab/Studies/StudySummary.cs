using EquivarianceLab.Measure;
using EquivarianceLab.Statistics;

namespace EquivarianceLab.Studies;

/// <summary>One part's invariance and equivariance across the seeds of a setting.</summary>
public sealed record PartSpread(SampleSpread Invariance, SampleSpread Equivariance);

/// <summary>
/// One row of a study's table: a setting (the seed replicas of one training command, <see cref="ReplicaKey"/>) measured
/// with one transform family, each score the mean ± sample standard deviation across its seeds.
/// </summary>
public sealed record SettingSummary
{
    /// <summary>The setting's name: the id of its lowest-seed model (<see cref="StudyEntry.Setting"/>).</summary>
    public required string Setting { get; init; }
    public required string Label { get; init; }
    /// <summary>How many models (normally one per seed) the row averages.</summary>
    public int N => Models.Count;
    /// <summary>The models' seeds, lowest first (null where a card records none); a seed twice would show here.</summary>
    public required IReadOnlyList<int?> Seeds { get; init; }
    /// <summary>The models, in the order of <see cref="Seeds"/>.</summary>
    public required IReadOnlyList<string> Models { get; init; }
    public string? AccuracyDataset { get; init; }
    /// <summary>What the models were measured with (probe, family, shift, similarity, images, test set); replicas measured differently are different rows.</summary>
    public required ComparableKey Key { get; init; }
    /// <summary>The card accuracy in percent, across the models that have one.</summary>
    public required SampleSpread Accuracy { get; init; }
    /// <summary>Every part at least one of the models has, in <see cref="Measure.Parts.All"/> order; each spread is over the models with that score.</summary>
    public required IReadOnlyDictionary<string, PartSpread> Parts { get; init; }
}

/// <summary>A study's per-model entries folded into one row per setting and transform family (docs/studies.md, "Seeds").</summary>
public static class StudySummary
{
    /// <summary>
    /// Groups the entries by label, setting and <see cref="ComparableKey"/> (in first-seen order) and takes, per part, the
    /// mean and sample sd of invariance and equivariance, and of the accuracy. An entry without <see cref="StudyEntry.Setting"/>
    /// (a file from before seeds) is a setting of its own.
    /// </summary>
    public static IReadOnlyList<SettingSummary> Compute(IEnumerable<StudyEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        return entries
            .GroupBy(e => (e.Label, Setting: e.SettingName, Key: ComparableKey.Of(e.Result, e.Result.Probe, e.AccuracyDataset)))
            .Select(g => Summarize(g.Key.Setting, g.Key.Label, g.Key.Key, [.. g.OrderBy(e => e.Seed ?? 0).ThenBy(e => e.ModelId, StringComparer.Ordinal)]))
            .ToList();
    }

    private static SettingSummary Summarize(string setting, string label, ComparableKey key, IReadOnlyList<StudyEntry> models)
    {
        var parts = new Dictionary<string, PartSpread>(StringComparer.Ordinal);
        foreach (var part in Measure.Parts.All)
        {
            var scores = models.Select(m => m.Result.Parts.GetValueOrDefault(part)).Where(s => s is not null).ToList();
            if (scores.Count == 0) continue;
            parts[part] = new PartSpread(SampleSpread.Of(scores.Select(s => s!.Invariance)), SampleSpread.Of(scores.Select(s => s!.Equivariance)));
        }
        return new SettingSummary
        {
            Setting = setting,
            Label = label,
            Seeds = [.. models.Select(m => m.Seed)],
            Models = [.. models.Select(m => m.ModelId)],
            AccuracyDataset = models[0].AccuracyDataset,
            Key = key,
            Accuracy = SampleSpread.Of(models.Select(m => m.Accuracy)),
            Parts = parts,
        };
    }
}
