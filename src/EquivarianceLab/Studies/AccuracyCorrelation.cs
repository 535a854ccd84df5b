using EquivarianceLab.Measure;
using EquivarianceLab.Statistics;

namespace EquivarianceLab.Studies;

/// <summary>
/// Spearman's ρ of one part's invariance or equivariance against accuracy, with n, the two-sided p (<see cref="Exact"/>:
/// from all n! orderings) and a bootstrap 95% <see cref="Interval"/>. <see cref="Rho"/> is null when no ρ exists, with
/// <see cref="Reason"/> saying why.
/// </summary>
public sealed record AccuracyRho(double? Rho, int N, double? P, bool Exact, SpearmanInterval? Interval, string? Reason);

/// <summary>One part's correlations with accuracy, for invariance and for equivariance.</summary>
public sealed record PartAccuracyRho(string Part, AccuracyRho Invariance, AccuracyRho Equivariance);

/// <summary>
/// One Spearman correlation of the §4.2 study: across the models of one <see cref="ComparableKey"/> (<see cref="Group"/>),
/// the rank correlation between a part's invariance or equivariance (<see cref="Measure"/>) and the card accuracy.
/// <see cref="Rho"/> and <see cref="P"/> are null when no ρ exists, with <see cref="Reason"/> saying why.
/// </summary>
public sealed record AccuracyCorrelationRow
{
    /// <summary>The comparable key's <see cref="ComparableKey.Text"/>.</summary>
    public required string Group { get; init; }
    /// <summary>The <c>accuracyDataset</c> the group's accuracies were measured on, e.g. <c>fmnist/test</c>.</summary>
    public required string TestSet { get; init; }
    public required string Probe { get; init; }
    public required string Transform { get; init; }
    public required int MaxShift { get; init; }
    public required string Similarity { get; init; }
    public required int Images { get; init; }
    public required string Part { get; init; }
    /// <summary><c>invariance</c> or <c>equivariance</c>.</summary>
    public required string Measure { get; init; }
    public double? Rho { get; init; }
    /// <summary>The number of models with both a score for this part and an accuracy.</summary>
    public required int N { get; init; }
    /// <summary>Two-sided p-value.</summary>
    public double? P { get; init; }
    /// <summary>True when <see cref="P"/> is exact (all n! orderings, n ≤ 10); false for the t approximation.</summary>
    public bool Exact { get; init; }
    /// <summary>The bootstrap 95% percentile interval of ρ (<see cref="SpearmanBootstrap"/>).</summary>
    public double? Low { get; init; }
    public double? High { get; init; }
    /// <summary>Bootstrap resamples drawn, and how many of them had no ρ (a constant side) and were skipped.</summary>
    public int? Resamples { get; init; }
    public int? Skipped { get; init; }
    public string? Reason { get; init; }
    /// <summary>The models of the group (including those without this part).</summary>
    public required IReadOnlyList<string> Models { get; init; }
}

/// <summary>
/// Paper §4.2 (docs/measure.md, "Accuracy correlation (Spearman)"): Spearman's ρ between each part's score and the
/// models' accuracy, over comparable measurements only. The study and the dashboard both call <see cref="ByPart"/>.
/// </summary>
public static class AccuracyCorrelation
{
    public const string Invariance = "invariance", Equivariance = "equivariance";

    /// <summary>
    /// For each comparable group (in first-seen order), each part and each of invariance/equivariance: ρ over the
    /// entries with an accuracy, each model one point — every seed of a setting included. Entries of different keys —
    /// another test set, probe set, shift, image count — are never pooled (accuracies of different tasks are not on one
    /// scale). A model missing a part is left out of that part's correlation.
    /// </summary>
    public static IReadOnlyList<AccuracyCorrelationRow> Compute(IReadOnlyList<StudyEntry> entries)
    {
        var rows = new List<AccuracyCorrelationRow>();
        foreach (var group in WithAccuracy(entries).GroupBy(e => ComparableKey.Of(e.Result, e.Result.Probe, e.AccuracyDataset)))
        {
            var members = group.ToList();
            var results = members.Select(e => e.Result).ToList();
            var correlations = ByPart(members.Select(e => e.Accuracy!.Value).ToList(),
                (part, measure) => results.Select(r => Score(r, part, measure)).ToList(), Parts.All);
            rows.AddRange(Rows(group.Key, correlations, members.Select(e => e.ModelId).ToList()));
        }
        return rows;
    }

    /// <summary>
    /// The same groups, but each setting one point: its mean accuracy against its mean score across its seeds
    /// (<see cref="StudySummary"/>), over the same models as <see cref="Compute"/>. Seeds of one setting are not
    /// independent draws of the settings' ranking, so this ρ's n and p are the honest ones for "do settings with more
    /// equivariance reach a higher accuracy"; with one seed per setting it equals <see cref="Compute"/>'s.
    /// <see cref="AccuracyCorrelationRow.Models"/> then lists the settings.
    /// </summary>
    public static IReadOnlyList<AccuracyCorrelationRow> ComputeOverSettingMeans(IReadOnlyList<StudyEntry> entries)
    {
        var rows = new List<AccuracyCorrelationRow>();
        foreach (var group in StudySummary.Compute(WithAccuracy(entries)).GroupBy(s => s.Key))
        {
            var settings = group.ToList();
            var correlations = ByPart(settings.Select(s => s.Accuracy.Mean!.Value).ToList(),
                (part, measure) => settings.Select(s => MeanScore(s, part, measure)).ToList(), Parts.All);
            rows.AddRange(Rows(group.Key, correlations, settings.Select(s => s.Setting).ToList()));
        }
        return rows;
    }

    private static IEnumerable<StudyEntry> WithAccuracy(IEnumerable<StudyEntry> entries) =>
        entries.Where(e => e.Accuracy is double a && !double.IsNaN(a));

    private static IEnumerable<AccuracyCorrelationRow> Rows(ComparableKey key, IReadOnlyList<PartAccuracyRho> correlations, IReadOnlyList<string> models) =>
        from part in correlations
        from c in new[] { (Measure: Invariance, Rho: part.Invariance), (Measure: Equivariance, Rho: part.Equivariance) }
        select new AccuracyCorrelationRow
        {
            Group = key.Text,
            TestSet = key.TestSet,
            Probe = key.Probe,
            Transform = key.Transform,
            MaxShift = key.MaxShift,
            Similarity = key.Similarity,
            Images = key.Images,
            Part = part.Part,
            Measure = c.Measure,
            Rho = c.Rho.Rho,
            N = c.Rho.N,
            P = c.Rho.P,
            Exact = c.Rho.Exact,
            Low = c.Rho.Interval?.Low,
            High = c.Rho.Interval?.High,
            Resamples = c.Rho.Interval?.Resamples,
            Skipped = c.Rho.Interval?.Skipped,
            Reason = c.Rho.Reason,
            Models = models,
        };

    /// <summary>
    /// ρ, n, p and the bootstrap interval of each part's invariance and equivariance against
    /// <paramref name="accuracy"/> (one per result, same order). The caller has made the results comparable.
    /// </summary>
    public static IReadOnlyList<PartAccuracyRho> ByPart(IReadOnlyList<double> accuracy, IReadOnlyList<MeasurementResult> results, IEnumerable<string> parts)
    {
        ArgumentNullException.ThrowIfNull(accuracy);
        ArgumentNullException.ThrowIfNull(results);
        if (accuracy.Count != results.Count) throw new ArgumentException($"{accuracy.Count} accuracies for {results.Count} results.", nameof(results));
        return ByPart(accuracy, (part, measure) => results.Select(r => Score(r, part, measure)).ToList(), parts);
    }

    /// <summary>The same, with each point's score of a part and measure given by <paramref name="scores"/> (NaN: none).</summary>
    private static List<PartAccuracyRho> ByPart(IReadOnlyList<double> accuracy, Func<string, string, List<double>> scores, IEnumerable<string> parts)
    {
        return parts.Select(part => new PartAccuracyRho(part, For(part, Invariance), For(part, Equivariance))).ToList();

        AccuracyRho For(string part, string measure)
        {
            var score = scores(part, measure);
            var s = Spearman.Compute(score, accuracy, $"{part} {measure}", "accuracy");
            var reason = s.Rho is null && score.All(double.IsNaN) ? $"No model of the group has a {part} part." : s.Reason;
            var interval = s.Rho is null ? null : SpearmanBootstrap.Interval(score, accuracy);
            return new AccuracyRho(s.Rho, s.N, s.PValue, s.IsExact, interval, reason);
        }
    }

    private static double MeanScore(SettingSummary setting, string part, string measure) =>
        setting.Parts.TryGetValue(part, out var s)
            ? (measure == Invariance ? s.Invariance.Mean : s.Equivariance.Mean) ?? double.NaN
            : double.NaN;

    private static double Score(MeasurementResult result, string part, string measure) =>
        result.Parts.TryGetValue(part, out var s)
            ? (measure == Invariance ? s.Invariance : s.Equivariance) ?? double.NaN
            : double.NaN;
}
