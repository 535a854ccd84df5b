using EquivarianceLab.Measure;
using EquivarianceLab.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Results;

/// <summary>Loads finished runs (with model name and current accuracy) for the result pages.</summary>
public static class RunLoader
{
    public static async Task<List<RunResult>> LoadAsync(AppDbContext db, IEnumerable<int> ids, CancellationToken ct = default)
    {
        var idList = ids.Distinct().ToList();
        var runs = await db.Runs.AsNoTracking().Include(r => r.Model)
            .Where(r => idList.Contains(r.Id) && r.ResultJson != null).ToListAsync(ct);
        // Keep the order the link gives.
        return runs.OrderBy(r => idList.IndexOf(r.Id))
            .Select(r => new RunResult(r.Id, r.Model?.Name ?? r.ModelId, r.Model?.Accuracy, MeasurementResult.FromJson(r.ResultJson!))).ToList();
    }

    /// <summary>Parses "3,5,7" (the share links' run lists); ignores anything that is not a positive id.</summary>
    public static List<int> ParseIds(string? text) =>
        (text ?? "").Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries)
            .Select(s => int.TryParse(s, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) ? id : 0)
            .Where(id => id > 0).Distinct().Take(200).ToList();

    public static string FormatIds(IEnumerable<int> ids) => string.Join(',', ids);
}
