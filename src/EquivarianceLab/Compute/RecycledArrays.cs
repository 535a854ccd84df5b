namespace EquivarianceLab.Compute;

/// <summary>
/// The measure's large working arrays (the packed references, the dense partner tallies, the vector layers' values,
/// the channel choices), kept between the measurements of one process instead of being left to the garbage
/// collector. A measurement writes tens of megabytes of them, and memory fresh from the system costs a page fault
/// for every 4 KiB on first touch — on the VMs measured here about 10 µs each, 2.6 ms a MiB: a 64×64 ResNet-18's
/// measurement had spent up to a third of its time beyond the forward passes on them (docs/performance.md). A study
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
    // Every idle array twice: in the order it came back (oldest first: what to drop) and under its element type,
    // length and heap (newest last: what to rent). The ImageNet ResNet-18's sparse partner tables alone are hundreds
    // of arrays, and a scan of one list per rent grew with them.
    private readonly LinkedList<Idle> _byAge = [];
    private readonly Dictionary<(Type Element, int Length, bool Pinned), LinkedList<Idle>> _byKey = [];
    private readonly HashSet<Array> _held = new(ReferenceEqualityComparer.Instance);
    private long _idleBytes;

    private sealed class Idle(Array array, (Type, int, bool) key, long bytes)
    {
        public Array Array { get; } = array;
        public (Type Element, int Length, bool Pinned) Key { get; } = key;
        public long Bytes { get; } = bytes;
        public LinkedListNode<Idle>? AgeNode, KeyNode;
    }

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
            if (_byKey.TryGetValue((typeof(T), length, pinned), out var same) && same.Last is { } newest)
            {
                Drop(newest.Value);
                return (T[])newest.Value.Array;
            }
        }
        return GC.AllocateUninitializedArray<T>(length, pinned);
    }

    /// <summary>
    /// Keeps <paramref name="array"/> for a later <see cref="Rent"/> of its length. Only an array from <see cref="Rent"/>
    /// with the same <paramref name="pinned"/>, and only once nothing refers to it any more. An array that is idle
    /// already is refused: kept twice, two later users would share it.
    /// </summary>
    public unsafe void Return<T>(T[] array, bool pinned = false) where T : unmanaged
    {
        if (array.Length == 0) return;
        long bytes = (long)array.Length * sizeof(T);
        if (bytes > MostIdleBytes) return;
        lock (_gate)
        {
            if (!_held.Add(array))
                throw new InvalidOperationException($"An array of {array.Length} {typeof(T).Name} was handed back twice.");
            while (_idleBytes + bytes > MostIdleBytes) Drop(_byAge.First!.Value);
            var key = (typeof(T), array.Length, pinned);
            var idle = new Idle(array, key, bytes);
            if (!_byKey.TryGetValue(key, out var same)) _byKey[key] = same = [];
            idle.KeyNode = same.AddLast(idle);
            idle.AgeNode = _byAge.AddLast(idle);
            _idleBytes += bytes;
        }
    }

    /// <summary>Takes <paramref name="idle"/> out of both orders (under the gate).</summary>
    private void Drop(Idle idle)
    {
        _byAge.Remove(idle.AgeNode!);
        var same = _byKey[idle.Key];
        same.Remove(idle.KeyNode!);
        if (same.Count == 0) _byKey.Remove(idle.Key);
        _held.Remove(idle.Array);
        _idleBytes -= idle.Bytes;
    }

    /// <summary>Drops every idle array (tests; a process that has finished measuring).</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _byAge.Clear();
            _byKey.Clear();
            _held.Clear();
            _idleBytes = 0;
        }
    }
}
