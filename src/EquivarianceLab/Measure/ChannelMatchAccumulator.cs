using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;
using EquivarianceLab.Compute;

namespace EquivarianceLab.Measure;

/// <summary>
/// Running per-channel tallies of one layer and transform over the probe images: how often each c′ was the best
/// partner of c, and the sums of the best and the c′ = c similarities. Its size depends on C and the partners actually
/// chosen (sparse tables), or, where a run has images enough for a channel to meet a good share of the C′ possible
/// partners, on C·C′ alone (dense counts: <see cref="PartnerCounts"/>) — never on N beyond that.
/// </summary>
public sealed class ChannelMatchAccumulator
{
    /// <summary>Partners kept per channel in the result (the heat map's rows); the rest are counted in no cell.</summary>
    public const int KeptPartners = 5;

    /// <summary>Channels per task when the tallies are split across threads, and per block of partner tables.</summary>
    private const int ChannelBlock = 64;

    private PartnerCounts[] _blocks = [];
    private int _channels;
    private readonly int _images;
    private readonly bool _partnersAreChannels;

    private double[] _bestSums = [], _diagonalSums = [];
    private int[] _bestCounts = [], _diagonalCounts = [];
    private int _decisions;

    /// <param name="images">The decisions each channel will get (a spatial layer's probe images; 1 for a vector
    /// layer), when known: the partner tables are sized for them at first (<see cref="PartnerCounts"/>).</param>
    /// <param name="partnersAreChannels">Whether every partner is one of the layer's own channels (the measure's
    /// case: c′ and c index the same layer), so that the possible partners are known and counting may be dense.</param>
    public ChannelMatchAccumulator(int images = 0, bool partnersAreChannels = false)
    {
        _images = images;
        _partnersAreChannels = partnersAreChannels;
    }

    /// <summary>Adds one batch's choices (<see cref="ChannelChoices"/>: one decision per image and channel).</summary>
    public void Add(ChannelChoices choices) => AddAll([(this, choices)]);

    /// <summary>
    /// <see cref="Add"/> for several layers at once. Each channel's tallies are its own, so blocks of channels of all
    /// the layers go side by side on the measure's threads, in one parallel loop (the same sums in any order): on a
    /// ResNet-18 at 64×64 the tallies had been a tenth of the time beyond the forward passes, and each loop wakes the
    /// other threads (<see cref="SimilarityKernel.Accumulate(IReadOnlyList{SimilarityKernel.Comparison})"/>).
    /// </summary>
    public static void AddAll(IReadOnlyList<(ChannelMatchAccumulator Tallies, ChannelChoices Choices)> layers)
    {
        foreach (var (tallies, choices) in layers) tallies.Ensure(choices.Channels);
        ComputeThreads.ForEachTask([.. layers.Select(layer => (layer.Choices.Channels + ChannelBlock - 1) / ChannelBlock)], (k, block) =>
        {
            var (tallies, choices) = layers[k];
            int first = block * ChannelBlock;
            tallies.AddChannels(choices, first, Math.Min(choices.Channels, first + ChannelBlock));
        });
        foreach (var (tallies, choices) in layers) tallies._decisions += choices.Images;
    }

    // Optimised from the first call: a measurement calls it only a few hundred times, too few for tiered compilation.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void AddChannels(ChannelChoices choices, int first, int last)
    {
        int c = choices.Channels;
        var counts = _blocks[first / ChannelBlock];
        // Dense blocks only, where the processor takes the hint (x86).
        bool prefetch = counts.IsDense && Sse.IsSupported;
        if (prefetch)
            for (int ch = first; ch < Math.Min(last, first + PrefetchAhead); ch++) PrefetchCounts(choices, counts, ch);
        for (int ch = first; ch < last; ch++)
        {
            int inBlock = ch % ChannelBlock;
            if (prefetch && ch + PrefetchAhead < last) PrefetchCounts(choices, counts, ch + PrefetchAhead);
            double bestSum = 0, diagonalSum = 0;
            int bestCount = 0, diagonalCount = 0;
            for (int k = ch; k < choices.Images * c; k += c)
            {
                int partner = choices.Partner[k];
                if (partner >= 0)
                {
                    counts.Increment(inBlock, partner);
                    bestSum += choices.Best[k];
                    bestCount++;
                }
                float diagonal = choices.Diagonal[k];
                if (!float.IsNaN(diagonal))
                {
                    diagonalSum += diagonal;
                    diagonalCount++;
                }
            }
            _bestSums[ch] += bestSum;
            _bestCounts[ch] += bestCount;
            _diagonalSums[ch] += diagonalSum;
            _diagonalCounts[ch] += diagonalCount;
        }
    }

    /// <summary>
    /// Channels ahead whose counts are asked for (<see cref="PartnerCounts.Prefetch"/>) while a channel is counted: a
    /// rotation run's tallies of the 64×64 ResNet-18 (128 images) took a median 0.0035 s with them, 0.0045 s without
    /// (docs/performance.md); 1, 4 or 8 channels ahead did as well as 2.
    /// </summary>
    private const int PrefetchAhead = 2;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PrefetchCounts(ChannelChoices choices, PartnerCounts counts, int ch)
    {
        int c = choices.Channels;
        for (int k = ch; k < choices.Images * c; k += c) counts.Prefetch(ch % ChannelBlock, choices.Partner[k]);
    }

    /// <summary>
    /// Hands the tallies' arrays to <see cref="RecycledArrays"/> for the process's next measurement, once the matching
    /// has been read (<see cref="ToMatching"/>); the accumulator is unusable after.
    /// </summary>
    public void Recycle()
    {
        foreach (var block in _blocks) block.Recycle();
        _blocks = [];
    }

    private void Ensure(int channels)
    {
        if (_channels == channels && _blocks.Length > 0) return;
        if (_blocks.Length != 0) throw new EquivarianceLabException($"A layer changed its channel count between batches ({_channels} → {channels}).");
        _channels = channels;
        _blocks = new PartnerCounts[(channels + ChannelBlock - 1) / ChannelBlock];
        // A channel has at most one partner per decision, and at most as many as there are channels.
        int partners = _images > 0 ? Math.Min(_images, channels) : 1;
        bool dense = _partnersAreChannels && _images > 0 && PartnerCounts.DenseFrom(partners, channels);
        for (int b = 0; b < _blocks.Length; b++)
        {
            int inBlock = Math.Min(ChannelBlock, channels - b * ChannelBlock);
            _blocks[b] = dense ? PartnerCounts.Dense(inBlock, channels) : new PartnerCounts(inBlock, partners);
        }
        _bestSums = new double[channels];
        _diagonalSums = new double[channels];
        _bestCounts = new int[channels];
        _diagonalCounts = new int[channels];
    }

    // Optimised from the first call: a measurement calls it once per layer and transform, over every channel.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ChannelMatching ToMatching()
    {
        int channels = _channels, matched = 0, own = 0;
        var match = new int?[channels];
        var share = new float?[channels];
        var equivariance = new float?[channels];
        var invariance = new float?[channels];
        var partners = new int[channels][];
        var partnerCounts = new int[channels][];
        var distinct = new HashSet<int>();
        for (int ch = 0; ch < channels; ch++)
        {
            (partners[ch], partnerCounts[ch]) = _blocks[ch / ChannelBlock].Top(ch % ChannelBlock, KeptPartners);
            if (_bestCounts[ch] > 0)
            {
                int m = partners[ch][0];
                match[ch] = m;
                share[ch] = Rounded((double)partnerCounts[ch][0] / _bestCounts[ch]);
                equivariance[ch] = Rounded(_bestSums[ch] / _bestCounts[ch]);
                matched++;
                distinct.Add(m);
                if (m == ch) own++;
            }
            if (_diagonalCounts[ch] > 0) invariance[ch] = Rounded(_diagonalSums[ch] / _diagonalCounts[ch]);
        }
        return new ChannelMatching
        {
            Decisions = _decisions,
            MatchedChannels = matched,
            OwnIndexShare = matched > 0 ? (double)own / matched : null,
            DistinctShare = matched > 0 ? (double)distinct.Count / matched : null,
            Match = match, MatchShare = share, Equivariance = equivariance, Invariance = invariance,
            Partners = partners, PartnerCounts = partnerCounts,
        };
    }

    /// <summary>4 decimals: the per-channel values are for reading and ranking, and a ResNet has thousands of channels.</summary>
    private static float Rounded(double value) => (float)Math.Round(value, 4, MidpointRounding.AwayFromZero);
}
