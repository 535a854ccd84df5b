namespace EquivarianceLab.Web.Uploads;

/// <summary>
/// One upload at a time per content hash, so identical uploads arriving together store one file, open it once and
/// all get the same answer (the first does the work; the others find its entry). Striped: a fixed set of locks
/// indexed by the hash, so the memory held does not grow with the number of uploads.
/// </summary>
public sealed class ContentLocks
{
    private readonly SemaphoreSlim[] _stripes = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    public async Task<T> RunAsync<T>(string sha256, Func<Task<T>> work, CancellationToken ct)
    {
        var stripe = _stripes[Convert.ToInt32(sha256[..2], 16) % _stripes.Length];
        await stripe.WaitAsync(ct);
        try { return await work(); }
        finally { stripe.Release(); }
    }
}
