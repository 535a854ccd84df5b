using System.Runtime.CompilerServices;

namespace EquivarianceLab.Measure;

/// <summary>
/// How often each partner c′ was chosen for one channel: an open-addressing table of (c′, count) pairs that grows with
/// the number of distinct partners, never with the number of images. A measure of a ResNet makes about a million of
/// these counts per transform: one probe into one array per count, where a <see cref="Dictionary{TKey,TValue}"/> per
/// channel looked each partner up twice through its buckets and entries.
/// </summary>
internal sealed class PartnerCounts
{
    private const int Empty = -1;
    private int[] _keys = [Empty, Empty, Empty, Empty];
    private int[] _counts = new int[4];

    /// <summary>How many distinct partners were counted.</summary>
    public int Count { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Increment(int partner)
    {
        int mask = _keys.Length - 1;
        int slot = Slot(partner, mask);
        while (true)
        {
            int key = _keys[slot];
            if (key == partner)
            {
                _counts[slot]++;
                return;
            }
            if (key == Empty) break;
            slot = (slot + 1) & mask;
        }
        _keys[slot] = partner;
        _counts[slot] = 1;
        // At most half full, so a probe ends soon.
        if (++Count * 2 > _keys.Length) Grow();
    }

    /// <summary>
    /// The <paramref name="kept"/> most chosen partners, most chosen first and ties to the smaller index (so the
    /// match does not depend on how the images were batched): one pass over the table with an insertion into at most
    /// <paramref name="kept"/> slots.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public (int[] Partners, int[] Counts) Top(int kept)
    {
        kept = Math.Min(kept, Count);
        int filled = 0;
        var partners = new int[kept];
        var counts = new int[kept];
        for (int slot = 0; slot < _keys.Length; slot++)
        {
            int key = _keys[slot];
            if (key == Empty) continue;
            int value = _counts[slot];
            int at = filled;
            while (at > 0 && (counts[at - 1] < value || (counts[at - 1] == value && partners[at - 1] > key))) at--;
            if (at >= kept) continue;
            for (int j = Math.Min(filled, kept - 1); j > at; j--)
            {
                partners[j] = partners[j - 1];
                counts[j] = counts[j - 1];
            }
            partners[at] = key;
            counts[at] = value;
            if (filled < kept) filled++;
        }
        return (partners, counts);
    }

    private void Grow()
    {
        var keys = _keys;
        var counts = _counts;
        _keys = new int[keys.Length * 2];
        Array.Fill(_keys, Empty);
        _counts = new int[keys.Length * 2];
        int mask = _keys.Length - 1;
        for (int i = 0; i < keys.Length; i++)
        {
            if (keys[i] == Empty) continue;
            int slot = Slot(keys[i], mask);
            while (_keys[slot] != Empty) slot = (slot + 1) & mask;
            _keys[slot] = keys[i];
            _counts[slot] = counts[i];
        }
    }

    // Fibonacci hashing: neighbouring channel indices land far apart.
    private static int Slot(int partner, int mask) => (int)(((uint)partner * 2654435769u) >> 8) & mask;
}
