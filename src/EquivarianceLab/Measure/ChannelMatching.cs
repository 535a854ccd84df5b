using System.Text.Json.Serialization;

namespace EquivarianceLab.Measure;

/// <summary>
/// Which channel each channel becomes under one transform (docs/measure.md, "Channel matching"): for every channel c
/// of f(gX), the c′ of g·f(X) the equivariance chose — per image on spatial layers, so each c has a most frequent
/// match and a share of images that chose it — with c's mean similarity to its best partner (its equivariance) and
/// to itself (its invariance). Two summary numbers say how close the matching is to a clean permutation.
/// </summary>
public sealed record ChannelMatching
{
    /// <summary>The decisions each channel's numbers are made of: images (spatial layers) or 1 (vector layers, one decision over all images).</summary>
    public required int Decisions { get; init; }
    /// <summary>Channels with a match (at least one valid partner in some decision).</summary>
    public required int MatchedChannels { get; init; }
    /// <summary>The share of matched channels whose most frequent match is their own index; null when none is matched.</summary>
    public double? OwnIndexShare { get; init; }
    /// <summary>
    /// The number of distinct most-frequent matches over the matched channels: 1.0 when the matching is a permutation
    /// (every c′ chosen by one c), 1/C when every channel picks the same c′; null when none is matched.
    /// </summary>
    public double? DistinctShare { get; init; }
    public required List<ChannelMatch> Channels { get; init; }
}

/// <summary>One channel's row of <see cref="ChannelMatching"/>; null values where the channel never had a partner.</summary>
public sealed record ChannelMatch
{
    public required int Channel { get; init; }
    /// <summary>The most frequent best partner c′ (ties to the smaller index).</summary>
    public int? Match { get; init; }
    /// <summary>The share of the channel's decisions that chose <see cref="Match"/>.</summary>
    public float? MatchShare { get; init; }
    /// <summary>Mean over decisions of the best similarity (the channel's part of the equivariance).</summary>
    public float? Equivariance { get; init; }
    /// <summary>Mean over decisions of S(c, c) (the channel's part of the invariance).</summary>
    public float? Invariance { get; init; }
    /// <summary>
    /// The most frequent partners, most chosen first (at most <see cref="ChannelMatchAccumulator.KeptPartners"/>), and
    /// how many decisions chose each: the rows of the c → c′ heat map.
    /// </summary>
    [JsonPropertyOrder(1)] public required int[] Partners { get; init; }
    [JsonPropertyOrder(1)] public required int[] PartnerCounts { get; init; }
}
