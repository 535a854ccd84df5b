using EquivarianceLab.Studies;

namespace EquivarianceLab.Web.Compare;

/// <summary><c>GET /api/correlation</c>: the comparable groups (or the one asked for) and the runs in no group.</summary>
public sealed record CorrelationStudyDto(IReadOnlyList<CorrelationGroupDto> Groups, IReadOnlyList<LeftOutRunDto> LeftOut)
{
    public static CorrelationStudyDto From(CorrelationGroups study, IEnumerable<CorrelationGroup> groups) =>
        new(groups.Select(CorrelationGroupDto.From).ToList(), study.LeftOut.Select(LeftOutRunDto.From).ToList());
}

/// <summary>
/// One comparable group: its settings (the <c>key</c> names them all), the runs ranked (n), the runs left out and the
/// correlations of each part's invariance and equivariance with accuracy.
/// </summary>
public sealed record CorrelationGroupDto(string Key, ProbeSetRefDto ProbeSet, string Transform, string Similarity, int MaxShift, int Images,
    string TestSet, int N, IReadOnlyList<CorrelatedRunDto> Runs, IReadOnlyList<LeftOutRunDto> LeftOut, IReadOnlyList<PartCorrelationDto> Parts)
{
    public static CorrelationGroupDto From(CorrelationGroup g) => new(g.Id, new ProbeSetRefDto(g.Key.Probe, g.ProbeSetName), g.Key.Transform,
        g.Key.Similarity, g.Key.MaxShift, g.Key.Images, g.Key.TestSet, g.N,
        g.Runs.Select(r => new CorrelatedRunDto(r.RunId, r.ModelId, r.ModelName, r.Accuracy!.Value)).ToList(),
        g.LeftOut.Select(LeftOutRunDto.From).ToList(),
        (g.Parts ?? []).Select(PartCorrelationDto.From).ToList());
}

public sealed record ProbeSetRefDto(string Id, string Name);

public sealed record CorrelatedRunDto(int RunId, string ModelId, string Model, double Accuracy);

public sealed record LeftOutRunDto(int RunId, string Model, string Reason)
{
    public static LeftOutRunDto From(LeftOutRun r) => new(r.RunId, r.Model, r.Reason);
}

public sealed record PartCorrelationDto(string Part, CorrelationDto Invariance, CorrelationDto Equivariance)
{
    public static PartCorrelationDto From(PartAccuracyRho p) => new(p.Part, CorrelationDto.From(p.Invariance), CorrelationDto.From(p.Equivariance));
}

/// <summary>
/// Spearman's ρ with n, the two-sided p (<c>exact</c>: from all n! orderings, n ≤ 10; otherwise Student's t) and the
/// bootstrap 95% interval [<c>low</c>, <c>high</c>]; no ρ when <c>reason</c> says why.
/// </summary>
public sealed record CorrelationDto(double? Rho, int N, double? P, bool Exact, double? Low, double? High, string? Reason)
{
    public static CorrelationDto From(AccuracyRho r) => new(r.Rho, r.N, r.P, r.Exact, r.Interval?.Low, r.Interval?.High, r.Reason);
}
