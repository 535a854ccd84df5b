using EquivarianceLab.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Runs;

/// <summary>
/// Brings progress of runs executed elsewhere — by a worker node sharing the database — to this node's open pages.
/// Jobs write their progress to the database about once a second (<see cref="MeasurementJob"/>); while any page here
/// listens, this reads the active and just-finished runs every <see cref="Interval"/> and publishes what changed
/// through the <see cref="RunProgressNotifier"/>, as a local job would. A run this node executes is published twice
/// (the same values), which pages do not notice.
/// </summary>
public sealed class RunProgressRelay(IDbContextFactory<AppDbContext> dbFactory, RunProgressNotifier notifier, TimeProvider time,
    ILogger<RunProgressRelay> logger) : BackgroundService
{
    internal static TimeSpan Interval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Finished runs are read for this long after they end, so a page sees the final state.</summary>
    private static readonly TimeSpan Recent = TimeSpan.FromSeconds(30);

    private readonly Dictionary<int, RunUpdate> _published = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            if (notifier.SubscriberCount == 0)
            {
                _published.Clear(); // the next listener gets every active run's state once
                continue;
            }
            try { await RelayAsync(stoppingToken); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogDebug(e, "Reading run progress failed; trying again.");
            }
        }
    }

    private async Task RelayAsync(CancellationToken ct)
    {
        var since = time.GetUtcNow().UtcDateTime - Recent;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var updates = await db.Runs.AsNoTracking()
            .Where(r => r.Status == RunStatus.Queued || r.Status == RunStatus.Running || (r.FinishedUtc != null && r.FinishedUtc > since))
            .Select(r => new RunUpdate(r.Id, r.Status, r.ImagesDone, r.ImagesTotal, r.EtaSeconds, r.Error))
            .ToListAsync(ct);
        foreach (var update in updates)
        {
            if (_published.TryGetValue(update.RunId, out var last) && last == update) continue;
            _published[update.RunId] = update;
            notifier.Publish(update);
        }
        var listed = updates.Select(u => u.RunId).ToHashSet();
        foreach (var gone in _published.Keys.Where(id => !listed.Contains(id)).ToList()) _published.Remove(gone);
    }
}
