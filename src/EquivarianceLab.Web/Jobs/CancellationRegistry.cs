using System.Collections.Concurrent;

namespace EquivarianceLab.Web.Jobs;

/// <summary>Token sources of the runs executing in this process, so a user's cancel reaches the running job at once.</summary>
public sealed class CancellationRegistry
{
    private readonly ConcurrentDictionary<int, CancellationTokenSource> _running = new();

    /// <summary>Registers a run; the returned source is linked to the job server's token (shutdown).</summary>
    public CancellationTokenSource Register(int runId, CancellationToken serverToken)
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(serverToken);
        _running[runId] = cts;
        return cts;
    }

    public void Unregister(int runId, CancellationTokenSource cts) => _running.TryRemove(new KeyValuePair<int, CancellationTokenSource>(runId, cts));

    /// <summary>True if the run executes here and was signalled.</summary>
    public bool Cancel(int runId)
    {
        if (!_running.TryGetValue(runId, out var cts)) return false;
        try { cts.Cancel(); } catch (ObjectDisposedException) { return false; }
        return true;
    }

    public bool IsRunningHere(int runId) => _running.ContainsKey(runId);
}
