namespace EquivarianceLab.Measure;

/// <summary>
/// Running per-channel tallies of one layer and transform over the probe images: how often each c′ was the best
/// partner of c (sparse: at most one entry per image and c), and the sums of the best and the c′ = c similarities.
/// Its size depends on C and the partners actually chosen, never on N beyond that.
/// </summary>
public sealed class ChannelMatchAccumulator
{
    /// <summary>Partners kept per channel in the result (the heat map's rows); the rest are counted in no cell.</summary>
    public const int KeptPartners = 5;

    private Dictionary<int, int>[] _counts = [];
    private double[] _bestSums = [], _diagonalSums = [];
    private int[] _bestCounts = [], _diagonalCounts = [];
    private int _decisions;

    /// <summary>Adds one batch's choices (<see cref="ChannelChoices"/>: one decision per image and channel).</summary>
    public void Add(ChannelChoices choices)
    {
        Ensure(choices.Channels);
        int c = choices.Channels;
        for (int i = 0; i < choices.Images; i++)
        {
            for (int ch = 0; ch < c; ch++)
            {
                int k = i * c + ch;
                int partner = choices.Partner[k];
                if (partner >= 0)
                {
                    var counts = _counts[ch];
                    counts[partner] = counts.GetValueOrDefault(partner) + 1;
                    _bestSums[ch] += choices.Best[k];
                    _bestCounts[ch]++;
                }
                float diagonal = choices.Diagonal[k];
                if (!float.IsNaN(diagonal))
                {
                    _diagonalSums[ch] += diagonal;
                    _diagonalCounts[ch]++;
                }
            }
        }
        _decisions += choices.Images;
    }

    private void Ensure(int channels)
    {
        if (_counts.Length == channels) return;
        if (_counts.Length != 0) throw new EquivarianceLabException($"A layer changed its channel count between batches ({_counts.Length} → {channels}).");
        _counts = new Dictionary<int, int>[channels];
        for (int ch = 0; ch < channels; ch++) _counts[ch] = [];
        _bestSums = new double[channels];
        _diagonalSums = new double[channels];
        _bestCounts = new int[channels];
        _diagonalCounts = new int[channels];
    }

    public ChannelMatching ToMatching()
    {
        int channels = _counts.Length, matched = 0, own = 0;
        var match = new int?[channels];
        var share = new float?[channels];
        var equivariance = new float?[channels];
        var invariance = new float?[channels];
        var partners = new int[channels][];
        var partnerCounts = new int[channels][];
        var distinct = new HashSet<int>();
        for (int ch = 0; ch < channels; ch++)
        {
            // Most chosen first; ties to the smaller index, so the match is the same however the images were batched.
            var top = _counts[ch].OrderByDescending(p => p.Value).ThenBy(p => p.Key).Take(KeptPartners).ToArray();
            partners[ch] = [.. top.Select(p => p.Key)];
            partnerCounts[ch] = [.. top.Select(p => p.Value)];
            if (_bestCounts[ch] > 0)
            {
                int m = top[0].Key;
                match[ch] = m;
                share[ch] = Rounded((double)top[0].Value / _bestCounts[ch]);
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
