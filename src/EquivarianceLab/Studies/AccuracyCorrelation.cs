using EquivarianceLab.Measure;
using EquivarianceLab.Statistics;

namespace EquivarianceLab.Studies;

/// <summary>
/// One Spearman correlation of the §4.2 study: across the models of <see cref="Group"/>, the rank correlation between a
/// part's invariance or equivariance (<see cref="Measure"/>) under one transform family and the card accuracy.
/// <see cref="Rho"/> and <see cref="P"/> are null when no ρ exists, with <see cref="Reason"/> saying why.
/// </summary>
public sealed record AccuracyCorrelationRow
{
    /// <summary><c>all</c>, or an <c>accuracyDataset</c> such as <c>fmnist/test</c>.</summary>
    public required string Group { get; init; }
    public required string Transform { get; init; }
    public required int MaxShift { get; init; }
    public required string Part { get; init; }
    /// <summary><c>invariance</c> or <c>equivariance</c>.</summary>
    public required string Measure { get; init; }
    public double? Rho { get; init; }
    /// <summary>The number of models with both a score for this part and an accuracy.</summary>
    public required int N { get; init; }
    /// <summary>Two-sided p-value.</summary>
    public double? P { get; init; }
    /// <summary>True when <see cref="P"/> is exact (all n! orderings, n ≤ 9); false for the t approximation.</summary>
    public bool Exact { get; init; }
    public string? Reason { get; init; }
    /// <summary>The models of the group measured with this transform family (including those without this part).</summary>
    public required IReadOnlyList<string> Models { get; init; }
}

/// <summary>
/// Paper §4.2 (docs/measure.md, "Accuracy correlation (Spearman)"): Spearman's ρ between each part's score and the
/// models' accuracy.
/// </summary>
public static class AccuracyCorrelation
{
    public const string AllGroup = "all";
    public const string Invariance = "invariance", Equivariance = "equivariance";

    /// <summary>
    /// For each transform family (in first-seen order), each part and each of invariance/equivariance: ρ over the entries
    /// with an accuracy. Group <c>all</c> takes every such entry; when the entries come from more than one
    /// <c>accuracyDataset</c>, each dataset with at least 3 models is also its own group (accuracies of different tasks are
    /// not on one scale). A model missing a part is left out of that part's correlation.
    /// </summary>
    public static IReadOnlyList<AccuracyCorrelationRow> Compute(IReadOnlyList<StudyEntry> entries)
    {
        var scored = entries.Where(e => e.Accuracy is double a && !double.IsNaN(a)).ToList();
        var groups = new List<(string Name, List<StudyEntry> Members)> { (AllGroup, scored) };
        var datasets = scored.GroupBy(e => e.AccuracyDataset ?? "?").ToList();
        if (datasets.Count > 1)
            groups.AddRange(datasets.Where(d => d.Select(e => e.ModelId).Distinct().Count() >= 3).OrderBy(d => d.Key, StringComparer.Ordinal)
                .Select(d => (d.Key, d.ToList())));

        var rows = new List<AccuracyCorrelationRow>();
        foreach (var (group, members) in groups)
        {
            foreach (var family in members.Select(e => (e.Result.Transform, e.Result.MaxShift)).Distinct())
            {
                var runs = members.Where(e => e.Result.Transform == family.Transform && e.Result.MaxShift == family.MaxShift).ToList();
                var accuracy = runs.Select(e => e.Accuracy!.Value).ToList();
                foreach (var part in Parts.All)
                {
                    foreach (var measure in new[] { Invariance, Equivariance })
                    {
                        var score = runs.Select(e => Score(e.Result, part, measure)).ToList();
                        var s = Spearman.Compute(score, accuracy, $"{part} {measure}", "accuracy");
                        var reason = s.Reason;
                        if (s.Rho is null && score.All(double.IsNaN))
                            reason = $"No model of the group has a {part} part.";
                        rows.Add(new AccuracyCorrelationRow
                        {
                            Group = group,
                            Transform = family.Transform,
                            MaxShift = family.MaxShift,
                            Part = part,
                            Measure = measure,
                            Rho = s.Rho,
                            N = s.N,
                            P = s.PValue,
                            Exact = s.IsExact,
                            Reason = reason,
                            Models = runs.Select(e => e.ModelId).ToList(),
                        });
                    }
                }
            }
        }
        return rows;
    }

    private static double Score(MeasurementResult result, string part, string measure) =>
        result.Parts.TryGetValue(part, out var s)
            ? (measure == Invariance ? s.Invariance : s.Equivariance) ?? double.NaN
            : double.NaN;
}
