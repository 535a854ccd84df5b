using EquivarianceLab.Web.Data;

namespace EquivarianceLab.Web.Runs;

/// <summary>A run's live state, as pushed to open pages.</summary>
public sealed record RunUpdate(int RunId, RunStatus Status, int ImagesDone, int ImagesTotal, double? EtaSeconds, string? Error)
{
    public static RunUpdate From(Run r) => new(r.Id, r.Status, r.ImagesDone, r.ImagesTotal, r.EtaSeconds, r.Error);
}

/// <summary>
/// Pushes job progress into open circuits. Singleton: jobs publish, components subscribe on first render and
/// dispose the subscription with themselves. In-process: runs executed by another node reach it through
/// <see cref="RunProgressRelay"/>, which reads their progress from the shared database.
/// </summary>
public sealed class RunProgressNotifier(ILogger<RunProgressNotifier> logger)
{
    private readonly Lock _gate = new();
    private List<Func<RunUpdate, Task>> _handlers = [];

    public IDisposable Subscribe(Func<RunUpdate, Task> handler)
    {
        lock (_gate) _handlers = [.. _handlers, handler];
        return new Subscription(this, handler);
    }

    public int SubscriberCount { get { lock (_gate) return _handlers.Count; } }

    public void Publish(RunUpdate update)
    {
        List<Func<RunUpdate, Task>> handlers;
        lock (_gate) handlers = _handlers;
        foreach (var h in handlers)
        {
            // A slow or broken circuit must not stall the job that publishes.
            _ = Invoke(h, update);
        }
    }

    private async Task Invoke(Func<RunUpdate, Task> handler, RunUpdate update)
    {
        try { await handler(update); }
        catch (Exception e) { logger.LogDebug(e, "A run progress subscriber failed."); }
    }

    private void Unsubscribe(Func<RunUpdate, Task> handler)
    {
        lock (_gate) _handlers = _handlers.Where(h => h != handler).ToList();
    }

    private sealed class Subscription(RunProgressNotifier owner, Func<RunUpdate, Task> handler) : IDisposable
    {
        private int _disposed;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) owner.Unsubscribe(handler);
        }
    }
}
