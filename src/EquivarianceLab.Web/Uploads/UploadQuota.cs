using EquivarianceLab.Web.Accounts;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Uploads;

/// <summary>
/// Bytes an account may keep per 24 hours, models and probe sets together (<c>RateLimits:UploadBytesPerDay</c>).
/// Counted from what was kept, so a refused upload costs nothing; the local admin has no quota.
/// </summary>
public sealed class UploadQuota(IDbContextFactory<AppDbContext> dbFactory, LabOptions options, TimeProvider time)
{
    public async Task CheckAsync(Caller caller, long bytes, CancellationToken ct)
    {
        if (caller.UserId is not { } user) return;
        var since = time.GetUtcNow().UtcDateTime.AddDays(-1);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var used = await db.Models.Where(m => m.OwnerId == user && m.AddedUtc > since).SumAsync(m => (long?)m.SizeBytes, ct) ?? 0;
        used += await db.ProbeSets.Where(p => p.OwnerId == user && p.AddedUtc > since).SumAsync(p => (long?)p.SizeBytes, ct) ?? 0;
        var limit = options.RateLimits.UploadBytesPerDay;
        if (used + bytes > limit)
            throw RequestException.OverQuota(
                $"This upload would take you over your {UploadWriter.Format(limit)} a day ({UploadWriter.Format(used)} kept in the last 24 hours).",
                TimeSpan.FromHours(1));
    }
}
