using EquivarianceLab.Measure;
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
        return runs.OrderBy(r => idList.IndexOf(r.Id))
            .Select(r => new RunResult(r.Id, r.Model?.Name ?? r.ModelId, r.Model?.Accuracy, MeasurementResult.FromJson(r.ResultJson!))).ToList();
    }
}
