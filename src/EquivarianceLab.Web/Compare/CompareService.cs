using EquivarianceLab.Measure;
using EquivarianceLab.Studies;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Results;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Compare;

/// <summary>Finished runs for the comparison and correlation pages: which exist, and their results with model name and current accuracy.</summary>
public sealed class CompareService(IDbContextFactory<AppDbContext> dbFactory)
{
    /// <summary>Finished runs, newest first, with model and probe set (the pickers).</summary>
    public async Task<List<Run>> DoneRunsAsync(int limit = 500, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.Runs.AsNoTracking().Include(r => r.Model).Include(r => r.ProbeSet).Where(r => r.Status == RunStatus.Done)
            .OrderByDescending(r => r.Id).Take(limit).ToListAsync(ct);
    }

    /// <summary>The results of the runs named, in the order given (a share link's order); runs without a result are left out.</summary>
    public async Task<List<RunResult>> LoadAsync(IEnumerable<int> ids, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var idList = ids.Distinct().ToList();
        var runs = await db.Runs.AsNoTracking().Include(r => r.Model)
            .Where(r => idList.Contains(r.Id) && r.ResultJson != null).ToListAsync(ct);
        // Keep the order the link gives.
        return runs.OrderBy(r => idList.IndexOf(r.Id)).Select(ToResult).ToList();
    }

    /// <summary>
    /// Paper §4.2 over comparable runs only (docs/dashboard.md, "Correlation"). Finished runs are grouped by
    /// <see cref="ComparableKey"/> — probe set, transform, similarity, maxShift, images measured and the accuracy's test
    /// set — and never pooled across groups. In a group each model counts once, with its newest run; runs of models
    /// without an accuracy are in no group. Groups are ordered by n, largest first. The groups come without statistics:
    /// <see cref="WithStatistics"/> adds them to the ones shown.
    /// </summary>
    public async Task<CorrelationGroups> CorrelationGroupsAsync(CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var runs = await db.Runs.AsNoTracking().Include(r => r.Model).Include(r => r.ProbeSet)
            .Where(r => r.Status == RunStatus.Done && r.ResultJson != null).ToListAsync(ct);
        var leftOut = new List<LeftOutRun>();
        var candidates = new List<(Run Run, RunResult Result, ComparableKey Key)>();
        foreach (var run in runs.OrderBy(r => r.Id))
        {
            var name = run.Model?.Name ?? run.ModelId;
            if (run.Model?.Accuracy is not double)
            {
                leftOut.Add(new LeftOutRun(run.Id, name, $"{name} has no accuracy: set it on the model's card to count this run."));
                continue;
            }
            if (run.ModelFileChanged)
            {
                // The accuracy on the card is the new file's; ranking this run's scores by it would pair two models.
                leftOut.Add(new LeftOutRun(run.Id, name,
                    $"{name}'s file has changed since this run measured it (a new checkpoint under the same id): its accuracy is not this run's model's. Measure it again to count it."));
                continue;
            }
            var result = ToResult(run);
            candidates.Add((run, result, ComparableKey.Of(result.Result, run.ProbeSetId, run.Model.AccuracyDataset)));
        }

        var groups = new List<CorrelationGroup>();
        foreach (var group in candidates.GroupBy(c => c.Key))
        {
            var counted = new List<RunResult>();
            var older = new List<LeftOutRun>();
            foreach (var model in group.GroupBy(c => c.Run.ModelId))
            {
                // Newest = finished last (a re-run keeps its id); the id breaks ties.
                var ordered = model.OrderByDescending(c => c.Run.FinishedUtc).ThenByDescending(c => c.Run.Id).ToList();
                counted.Add(ordered[0].Result);
                older.AddRange(ordered.Skip(1).Select(c => new LeftOutRun(c.Run.Id, c.Result.ModelName,
                    $"An older run of {c.Result.ModelName}: each model counts once, with its newest run (#{ordered[0].Run.Id}).")));
            }
            counted.Sort((a, b) => a.RunId.CompareTo(b.RunId));
            var first = group.First();
            groups.Add(new CorrelationGroup(group.Key, first.Run.ProbeSet?.Name ?? first.Run.ProbeSetId, ResultViews.Labelled(counted),
                older.OrderBy(r => r.RunId).ToList(), null));
        }
        groups = groups.OrderByDescending(g => g.N).ThenBy(g => g.Id, StringComparer.Ordinal).ToList();
        return new CorrelationGroups(groups, leftOut);
    }

    /// <summary>
    /// The study with ρ, n, p and the bootstrap interval per part for the group <paramref name="key"/> names, or for
    /// every group when it is null (the page asks for the group it shows, the API for what its query names).
    /// </summary>
    public static CorrelationGroups WithStatistics(CorrelationGroups study, string? key) =>
        study with { Groups = study.Groups.Select(g => key is null || g.Id == key ? g with { Parts = Statistics(g.Runs) } : g).ToList() };

    /// <summary>The parts any run of the group has, each correlated with accuracy by the library (the study's code).</summary>
    private static IReadOnlyList<PartAccuracyRho> Statistics(IReadOnlyList<RunResult> runs) =>
        AccuracyCorrelation.ByPart(runs.Select(r => r.Accuracy!.Value).ToList(), runs.Select(r => r.Result).ToList(), ResultViews.PartsIn(runs.Select(r => r.Result)));

    /// <summary>A run of an earlier file of its model shows no accuracy: the model's is the new file's.</summary>
    private static RunResult ToResult(Run r) =>
        new(r.Id, r.Model?.Name ?? r.ModelId, r.ModelFileChanged ? null : r.Model?.Accuracy, MeasurementResult.FromJson(r.ResultJson!)) { ModelId = r.ModelId };
}
