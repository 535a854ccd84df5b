using EquivarianceLab.Studies;
using EquivarianceLab.Web.Results;

namespace EquivarianceLab.Web.Compare;

/// <summary>A finished run left out of a correlation, and why.</summary>
public sealed record LeftOutRun(int RunId, string Model, string Reason);

/// <summary>
/// Runs that may be ranked together (one <see cref="ComparableKey"/>): the newest finished run of each model with an
/// accuracy. <see cref="Parts"/> is null when the statistics were not asked for (the picker only needs n).
/// </summary>
public sealed record CorrelationGroup(ComparableKey Key, string ProbeSetName, IReadOnlyList<RunResult> Runs, IReadOnlyList<LeftOutRun> LeftOut,
    IReadOnlyList<PartAccuracyRho>? Parts)
{
    public string Id => Key.Text;
    public int N => Runs.Count;
}

/// <summary>Every comparable group of finished runs, and the runs that are in none.</summary>
public sealed record CorrelationGroups(IReadOnlyList<CorrelationGroup> Groups, IReadOnlyList<LeftOutRun> LeftOut)
{
    public CorrelationGroup? Find(string? key) => Groups.FirstOrDefault(g => g.Id == key);
}
