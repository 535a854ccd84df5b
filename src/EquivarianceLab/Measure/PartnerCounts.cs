using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using EquivarianceLab.Compute;

namespace EquivarianceLab.Measure;

/// <summary>
/// How often each partner c′ was chosen, for each channel of one block of channels: per channel an open-addressing
/// table of (c′, count) pairs that grows with the number of distinct partners, never with the number of images. All
/// the block's tables live in one array, key and count side by side, and neighbouring channels' tables start next to
/// each other. A measure of a ResNet makes about a million of these counts per transform: with an object and two
/// arrays per channel, the ImageNet ResNet-18's tallies spent most of their time allocating the tables as they grew
/// (the allocator's clearing and the page faults of fresh memory) and the rest mostly on cache misses between a
/// channel's object and its arrays. A block belongs to one thread at a time (<see cref="ChannelMatchAccumulator"/>
/// splits a layer's channels into blocks), so a table can move without a lock.
/// <para>Where a channel can be expected to meet a good share of its possible partners (<see cref="DenseFrom"/>), the
/// block counts densely instead: one int per channel and possible partner, allocated once. That is no larger than the
/// tables such a run grows (a table is at most half full and 8 bytes a pair, and the array keeps room for growth), and
/// it does not grow with the images: the 64×64 ResNet-18's tallies had made the peak memory of 4N images 2% higher than
/// that of N (docs/performance.md).</para>
/// </summary>
internal sealed class PartnerCounts
{
    private const int Empty = -1;

    /// <summary>The most pairs a channel's table starts with (512 bytes).</summary>
    private const int MostFirstCapacity = 64;

    /// <summary>
    /// The most possible partners a dense block counts: 512 channels make 1 MiB per layer and transform. Wider layers
    /// (a ViT-B's 768 dimensions over 16 shifts and dozens of layers) would take gigabytes densely, where their
    /// channels, trained, mostly meet a few partners each.
    /// </summary>
    public const int MostDensePartners = 512;

    /// <summary>
    /// Dense counting pays once the expected partners reach a quarter of the possible ones (see the class summary), up
    /// to <see cref="MostDensePartners"/>.
    /// </summary>
    public static bool DenseFrom(int expectedPartners, int possiblePartners) =>
        possiblePartners <= MostDensePartners && 4L * expectedPartners >= possiblePartners;

    // Pair p is _pairs[2p] (the partner, or Empty) and _pairs[2p + 1] (its count).
    private int[] _pairs;
    private readonly int[] _start, _capacity, _distinct;
    private int _used;

    // Dense counting: channel ch's count of partner p is _dense[ch * _range + p].
    private int[]? _dense;
    private readonly int _range;

    /// <summary>A block that counts densely: partners are 0 … <paramref name="possiblePartners"/> − 1.</summary>
    public static PartnerCounts Dense(int channels, int possiblePartners) => new(channels, possiblePartners, dense: true);

    private PartnerCounts(int channels, int possiblePartners, bool dense)
    {
        _range = possiblePartners;
        _dense = RecycledArrays.Shared.Rent<int>(checked(channels * possiblePartners));
        Array.Clear(_dense);
        _pairs = _start = _capacity = _distinct = [];
    }

    /// <param name="channels">Channels in this block.</param>
    /// <param name="expectedPartners">How many distinct partners a channel can have at most, as far as is known (the
    /// images to be counted, or the channels to choose from): the tables start with room for that many, up to
    /// <see cref="MostFirstCapacity"/> / 2, so a short run never grows them. Fresh memory is dear: in a 32-image
    /// measure of the ImageNet ResNet-18 (its channels find a new partner in most images), tables grown from a few
    /// pairs spent most of the tallies' 0.07–0.11 s a run in the allocator clearing new memory and in its page faults;
    /// sized from the start, the tallies took 0.03–0.05 s.</param>
    public PartnerCounts(int channels, int expectedPartners)
    {
        int first = (int)Math.Min(MostFirstCapacity, BitOperations.RoundUpToPowerOf2((uint)Math.Max(4, 2 * expectedPartners)));
        _start = new int[channels];
        _capacity = new int[channels];
        _distinct = new int[channels];
        _pairs = RecycledArrays.Shared.Rent<int>(2 * channels * first);
        for (int ch = 0; ch < channels; ch++)
        {
            _start[ch] = ch * first;
            _capacity[ch] = first;
        }
        _used = channels * first;
        MarkEmpty(0, _used);
    }

    /// <summary>Whether this block counts densely (<see cref="Dense"/>).</summary>
    public bool IsDense => _dense is not null;

    /// <summary>
    /// Asks for the count that <see cref="Increment"/>(<paramref name="channel"/>, <paramref name="partner"/>) will
    /// write to be brought into the cache, in a dense block (a hint: nothing else happens). A dense layer's counts are
    /// larger than L2 (a 512-channel layer: 1 MiB per transform) and the forward passes between two tallies evict them,
    /// so each increment waited on memory; asked for a few channels ahead, the misses overlap.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe void Prefetch(int channel, int partner)
    {
        // The array is not pinned: should the collector move it in between, the hint names a stale address, which
        // a prefetch never faults on.
        if (_dense is { } dense && (uint)partner < (uint)_range && Sse.IsSupported)
            Sse.Prefetch0((int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(dense)) + channel * _range + partner);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Increment(int channel, int partner)
    {
        if (_dense is { } dense)
        {
            // A partner outside the range would land in the next channel's counts.
            if ((uint)partner >= (uint)_range) throw new ArgumentOutOfRangeException(nameof(partner), partner, $"Partners are 0 … {_range - 1}.");
            dense[channel * _range + partner]++;
            return;
        }
        int start = _start[channel], mask = _capacity[channel] - 1;
        int slot = Slot(partner, mask);
        while (true)
        {
            int at = 2 * (start + slot);
            int key = _pairs[at];
            if (key == partner)
            {
                _pairs[at + 1]++;
                return;
            }
            if (key == Empty)
            {
                _pairs[at] = partner;
                _pairs[at + 1] = 1;
                break;
            }
            slot = (slot + 1) & mask;
        }
        // At most half full, so a probe ends soon.
        if (++_distinct[channel] * 2 > _capacity[channel]) Grow(channel);
    }

    /// <summary>
    /// Channel <paramref name="channel"/>'s <paramref name="kept"/> most chosen partners, most chosen first and ties to
    /// the smaller index (so the match does not depend on how the images were batched): one pass over its table with
    /// an insertion into at most <paramref name="kept"/> slots.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public (int[] Partners, int[] Counts) Top(int channel, int kept)
    {
        if (_dense is not null) return DenseTop(channel, kept);
        kept = Math.Min(kept, _distinct[channel]);
        int filled = 0;
        var partners = new int[kept];
        var counts = new int[kept];
        int start = _start[channel], capacity = _capacity[channel];
        for (int slot = 0; slot < capacity; slot++)
        {
            int key = _pairs[2 * (start + slot)];
            if (key == Empty) continue;
            Keep(partners, counts, ref filled, key, _pairs[2 * (start + slot) + 1]);
        }
        return (partners, counts);
    }

    /// <summary><see cref="Top"/> of a dense block: the same order, over the counts of every possible partner.</summary>
    private (int[] Partners, int[] Counts) DenseTop(int channel, int kept)
    {
        var partners = new int[kept];
        var counts = new int[kept];
        int filled = 0;
        var row = _dense.AsSpan(channel * _range, _range);
        for (int key = 0; key < row.Length; key++)
            if (row[key] != 0) Keep(partners, counts, ref filled, key, row[key]);
        return filled == kept ? (partners, counts) : (partners[..filled], counts[..filled]);
    }

    /// <summary>
    /// Inserts (<paramref name="key"/>, <paramref name="value"/>) into the first <paramref name="filled"/> of the
    /// kept partners, most chosen first and ties to the smaller index, when it ranks among them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Keep(int[] partners, int[] counts, ref int filled, int key, int value)
    {
        int kept = partners.Length, at = filled;
        while (at > 0 && (counts[at - 1] < value || (counts[at - 1] == value && partners[at - 1] > key))) at--;
        if (at >= kept) return;
        for (int j = Math.Min(filled, kept - 1); j > at; j--)
        {
            partners[j] = partners[j - 1];
            counts[j] = counts[j - 1];
        }
        partners[at] = key;
        counts[at] = value;
        if (filled < kept) filled++;
    }

    /// <summary>
    /// Moves the channel's table to twice its size at the end of the array. When the array has no room, the tables move
    /// into a new one with as much room again, packed: the places that grown tables left behind are dropped there, so
    /// the array holds at most twice the tables in use.
    /// </summary>
    private void Grow(int channel)
    {
        int oldStart = _start[channel], oldCapacity = _capacity[channel], capacity = 2 * oldCapacity;
        var from = _pairs;
        if (2 * (_used + capacity) > _pairs.Length)
        {
            int others = 0;
            for (int ch = 0; ch < _start.Length; ch++) if (ch != channel) others += _capacity[ch];
            var pairs = RecycledArrays.Shared.Rent<int>(2 * 2 * (others + capacity));
            int at = 0;
            for (int ch = 0; ch < _start.Length; ch++)
            {
                if (ch == channel) continue;
                Array.Copy(from, 2 * _start[ch], pairs, 2 * at, 2 * _capacity[ch]);
                _start[ch] = at;
                at += _capacity[ch];
            }
            _pairs = pairs;
            _used = at;
        }
        int start = _used;
        _used += capacity;
        MarkEmpty(start, capacity);
        int mask = capacity - 1;
        for (int slot = 0; slot < oldCapacity; slot++)
        {
            int key = from[2 * (oldStart + slot)];
            if (key == Empty) continue;
            int to = Slot(key, mask);
            while (_pairs[2 * (start + to)] != Empty) to = (to + 1) & mask;
            _pairs[2 * (start + to)] = key;
            _pairs[2 * (start + to) + 1] = from[2 * (oldStart + slot) + 1];
        }
        _start[channel] = start;
        _capacity[channel] = capacity;
        if (!ReferenceEquals(from, _pairs)) RecycledArrays.Shared.Return(from);
    }

    /// <summary>Hands the counts' arrays to <see cref="RecycledArrays"/> once the tallies have been read; the block is unusable after.</summary>
    public void Recycle()
    {
        if (_dense is not null) RecycledArrays.Shared.Return(_dense);
        RecycledArrays.Shared.Return(_pairs);
        _dense = null;
        _pairs = [];
    }

    private void MarkEmpty(int start, int pairs)
    {
        var span = _pairs.AsSpan(2 * start, 2 * pairs);
        for (int k = 0; k < span.Length; k += 2)
        {
            span[k] = Empty;
            span[k + 1] = 0;
        }
    }

    // Fibonacci hashing: neighbouring channel indices land far apart.
    private static int Slot(int partner, int mask) => (int)(((uint)partner * 2654435769u) >> 8) & mask;
}
