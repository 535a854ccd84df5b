using System.Collections.Concurrent;
using EquivarianceLab.Web.Data;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace EquivarianceLab.Web.Runs;

/// <summary>
/// Brings progress of runs executed elsewhere — by a worker node sharing the database — to this node's open pages.
/// Jobs write their progress to the database about once a second (<see cref="MeasurementJob"/>). On PostgreSQL every
/// such write is announced on a channel (<see cref="RunChangeSignal"/>): this node LISTENs and reads the announced run
/// at once, and polls all active runs only every <see cref="PostgresPollInterval"/> as a safety net (a notification is
/// lost while the listening connection is down). On SQLite it polls every <see cref="Interval"/>. Only while a page
/// here listens; what changed is published through the <see cref="RunProgressNotifier"/>, as a local job would. A run
/// this node executes is published twice (the same values), which pages do not notice.
/// </summary>
public sealed class RunProgressRelay(IDbContextFactory<AppDbContext> dbFactory, RunProgressNotifier notifier, RunChangeSignal signal,
    IConfiguration config, TimeProvider time, ILogger<RunProgressRelay> logger) : BackgroundService
{
    internal static TimeSpan Interval { get; set; } = TimeSpan.FromMilliseconds(500);
    internal static TimeSpan PostgresPollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Finished runs are read for this long after they end, so a page sees the final state.</summary>
    private static readonly TimeSpan Recent = TimeSpan.FromSeconds(30);

    private readonly Dictionary<int, RunUpdate> _published = [];
    private readonly ConcurrentQueue<int> _announced = new();
    private readonly SemaphoreSlim _wake = new(0);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (signal.Enabled) _ = ListenAsync(config.GetConnectionString("App")!, stoppingToken);
        var poll = signal.Enabled ? PostgresPollInterval : Interval;
        var nextPoll = DateTime.UtcNow;
        while (!stoppingToken.IsCancellationRequested)
        {
            // Woken by an announcement, or at the next poll.
            var wait = nextPoll - DateTime.UtcNow;
            if (wait > TimeSpan.Zero)
            {
                try { await _wake.WaitAsync(wait, stoppingToken); }
                catch (OperationCanceledException) { return; }
            }
            var ids = new HashSet<int>();
            while (_announced.TryDequeue(out var id)) ids.Add(id);
            if (notifier.SubscriberCount == 0)
            {
                _published.Clear(); // the next listener gets every active run's state once
                nextPoll = DateTime.UtcNow + poll;
                continue;
            }
            var full = DateTime.UtcNow >= nextPoll;
            try { await RelayAsync(full ? null : ids, stoppingToken); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogDebug(e, "Reading run progress failed; trying again.");
            }
            if (full) nextPoll = DateTime.UtcNow + poll;
        }
    }

    /// <summary>Reads the announced runs, or (null) every active and just-finished run, and publishes what changed.</summary>
    private async Task RelayAsync(IReadOnlyCollection<int>? ids, CancellationToken ct)
    {
        if (ids is { Count: 0 }) return;
        var since = time.GetUtcNow().UtcDateTime - Recent;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var query = db.Runs.AsNoTracking();
        query = ids is null
            ? query.Where(r => r.Status == RunStatus.Queued || r.Status == RunStatus.Running || (r.FinishedUtc != null && r.FinishedUtc > since))
            : query.Where(r => ids.Contains(r.Id));
        var updates = await query.Select(r => new RunUpdate(r.Id, r.Status, r.ImagesDone, r.ImagesTotal, r.EtaSeconds, r.Error)).ToListAsync(ct);
        foreach (var update in updates)
        {
            if (_published.TryGetValue(update.RunId, out var last) && last == update) continue;
            _published[update.RunId] = update;
            notifier.Publish(update);
        }
        if (ids is not null) return;
        var listed = updates.Select(u => u.RunId).ToHashSet();
        foreach (var gone in _published.Keys.Where(id => !listed.Contains(id)).ToList()) _published.Remove(gone);
    }

    /// <summary>LISTENs on the run channel on a connection of its own, reconnecting after a failure.</summary>
    private async Task ListenAsync(string connectionString, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync(ct);
                connection.Notification += (_, e) =>
                {
                    if (!int.TryParse(e.Payload, System.Globalization.CultureInfo.InvariantCulture, out var id)) return;
                    _announced.Enqueue(id);
                    try { _wake.Release(); } catch (ObjectDisposedException) { } // stopping

                };
                await using (var listen = new NpgsqlCommand($"LISTEN {RunChangeSignal.Channel}", connection)) await listen.ExecuteNonQueryAsync(ct);
                while (true) await connection.WaitAsync(ct);
            }
            catch (OperationCanceledException) { return; }
            catch (Exception e)
            {
                logger.LogWarning("Listening for run changes failed ({Reason}); polling until it reconnects.", e.GetType().Name);
                try { await Task.Delay(TimeSpan.FromSeconds(2), ct); } catch (OperationCanceledException) { return; }
            }
        }
    }

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }
}
