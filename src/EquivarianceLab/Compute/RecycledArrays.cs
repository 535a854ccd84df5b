namespace EquivarianceLab.Compute;

/// <summary>
/// The measure's large working arrays (the packed references, the dense partner tallies, the vector layers' values,
/// the channel choices), kept between the measurements of one process instead of being left to the garbage
/// collector. A measurement writes tens of megabytes of them, and memory fresh from the system costs a page fault
/// for every 4 KiB on first touch — on the VMs measured here about 10 µs each, 2.6 ms a MiB: a 64×64 ResNet-18's
/// measurement had spent up to a third of its time beyond the forward passes on them (README, "Performance"). A study
/// measures dozens of models in one process and <c>eqlab bench</c> repeats one; their later measurements find the
/// arrays resident. A single measurement pays for them once, in its first batch, whatever its N.
/// <para>A rented array's contents are whatever its last user left. An array goes back only when nothing else refers
/// to it any more (a tensor over it, another thread): the measure returns its arrays after a run has succeeded, and
/// a failed run leaves them to the collector. Idle arrays are kept up to <see cref="MostIdleBytes"/>, the longest
/// idle dropped first.</para>
/// </summary>
public sealed class RecycledArrays(long mostIdleBytes)
{
    /// <summary>The process's store, the measure's: up to 512 MiB idle, a few measurements' worth of a large model's working arrays.</summary>
    public static RecycledArrays Shared { get; } = new(512L << 20);

    /// <summary>The most bytes kept idle.</summary>
    public long MostIdleBytes { get; } = mostIdleBytes;

    private readonly Lock _gate = new();
    private readonly LinkedList<(Array Array, bool Pinned, long Bytes)> _idle = []; // oldest first: what to drop
    private long _idleBytes;

    /// <summary>Bytes kept idle now.</summary>
    public long IdleBytes
    {
        get { lock (_gate) return _idleBytes; }
    }

    /// <summary>
    /// An array of exactly <paramref name="length"/> elements, an idle one when there is one (its contents as left),
    /// else a new one, uninitialised. <paramref name="pinned"/>: on the pinned object heap (its address never changes).
    /// </summary>
    public T[] Rent<T>(int length, bool pinned = false) where T : unmanaged
    {
        if (length == 0) return [];
        lock (_gate)
        {
            // Newest first: a run's arrays come back together and are rented again in much the same order.
            for (var node = _idle.Last; node is not null; node = node.Previous)
            {
                var (array, isPinned, bytes) = node.Value;
                if (array is T[] typed && typed.Length == length && isPinned == pinned)
                {
                    _idle.Remove(node);
                    _idleBytes -= bytes;
                    return typed;
                }
            }
        }
        return GC.AllocateUninitializedArray<T>(length, pinned);
    }

    /// <summary>
    /// Keeps <paramref name="array"/> for a later <see cref="Rent"/> of its length. Only an array from <see cref="Rent"/>
    /// with the same <paramref name="pinned"/>, and only once nothing refers to it any more.
    /// </summary>
    public unsafe void Return<T>(T[] array, bool pinned = false) where T : unmanaged
    {
        if (array.Length == 0) return;
        long bytes = (long)array.Length * sizeof(T);
        if (bytes > MostIdleBytes) return;
        lock (_gate)
        {
            while (_idleBytes + bytes > MostIdleBytes)
            {
                _idleBytes -= _idle.First!.Value.Bytes;
                _idle.RemoveFirst();
            }
            _idle.AddLast((array, pinned, bytes));
            _idleBytes += bytes;
        }
    }

    /// <summary>Drops every idle array (tests; a process that has finished measuring).</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _idle.Clear();
            _idleBytes = 0;
        }
    }
}
