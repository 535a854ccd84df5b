using System.Text.Json;
using System.Text.Json.Serialization;

namespace EquivarianceLab.Measure;

/// <summary>
/// Which channel each channel becomes under one transform (docs/measure.md, "Channel matching"): for every channel c
/// of f(gX), the c′ of g·f(X) the equivariance chose — per image on spatial layers, so each c has a most frequent
/// match and a share of images that chose it — with c's mean similarity to its best partner (its equivariance) and
/// to itself (its invariance). Two summary numbers say how close the matching is to a clean permutation.
/// Per-channel values are arrays indexed by channel (null where a channel never had a partner), similarities
/// rounded to 4 decimals, and the whole record is written on one line: a ResNet's 29 layers hold thousands of channels.
/// </summary>
[JsonConverter(typeof(ChannelMatchingConverter))]
public sealed record ChannelMatching
{
    /// <summary>The decisions each channel's numbers are made of: images (spatial layers) or 1 (vector layers, one decision over all images).</summary>
    public required int Decisions { get; init; }
    /// <summary>Channels with a match (a valid partner in at least one decision).</summary>
    public required int MatchedChannels { get; init; }
    /// <summary>The share of matched channels whose most frequent match is their own index; null when none is matched.</summary>
    public double? OwnIndexShare { get; init; }
    /// <summary>
    /// The number of distinct most-frequent matches over the number of matched channels: 1.0 when the matching is a
    /// permutation (every c′ chosen by one c), 1/C when every channel picks the same c′; null when none is matched.
    /// </summary>
    public double? DistinctShare { get; init; }
    /// <summary>Per channel c: the most frequent best partner c′ (ties to the smaller index).</summary>
    public required int?[] Match { get; init; }
    /// <summary>Per channel: the share of its decisions that chose <see cref="Match"/>.</summary>
    public required float?[] MatchShare { get; init; }
    /// <summary>Per channel: the mean over decisions of the best similarity (the channel's part of the equivariance).</summary>
    public required float?[] Equivariance { get; init; }
    /// <summary>Per channel: the mean over decisions of S(c, c) (the channel's part of the invariance).</summary>
    public required float?[] Invariance { get; init; }
    /// <summary>
    /// Per channel: the most chosen partners, most chosen first (at most <see cref="ChannelMatchAccumulator.KeptPartners"/>),
    /// and how many decisions chose each — the rows of the c → c′ heat map.
    /// </summary>
    public required int[][] Partners { get; init; }
    public required int[][] PartnerCounts { get; init; }

    [JsonIgnore] public int Channels => Match.Length;

    /// <summary>Channel <paramref name="c"/>'s values as one row (the dashboard's table and the CSV).</summary>
    public ChannelMatch Row(int c) => new(c, Match[c], MatchShare[c], Equivariance[c], Invariance[c], Partners[c], PartnerCounts[c]);

    public IEnumerable<ChannelMatch> Rows() => Enumerable.Range(0, Channels).Select(Row);
}

/// <summary>One channel's values in <see cref="ChannelMatching"/>.</summary>
public sealed record ChannelMatch(int Channel, int? Match, float? MatchShare, float? Equivariance, float? Invariance, int[] Partners, int[] PartnerCounts);

/// <summary>Writes a <see cref="ChannelMatching"/> on one line inside an indented result.json, and reads it back.</summary>
public sealed class ChannelMatchingConverter : JsonConverter<ChannelMatching>
{
    // Same names as the result's, without indentation and without this converter (so it does not call itself).
    private static readonly JsonSerializerOptions Compact = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(),
    };

    public override ChannelMatching? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        JsonSerializer.Deserialize<Plain>(ref reader, Compact)?.ToMatching();

    public override void Write(Utf8JsonWriter writer, ChannelMatching value, JsonSerializerOptions options) =>
        writer.WriteRawValue(JsonSerializer.Serialize(Plain.From(value), Compact), skipInputValidation: true);

    /// <summary>The same fields, as a type without the converter attribute.</summary>
    private sealed record Plain(int Decisions, int MatchedChannels, double? OwnIndexShare, double? DistinctShare, int?[] Match,
        float?[] MatchShare, float?[] Equivariance, float?[] Invariance, int[][] Partners, int[][] PartnerCounts)
    {
        public static Plain From(ChannelMatching m) => new(m.Decisions, m.MatchedChannels, m.OwnIndexShare, m.DistinctShare, m.Match,
            m.MatchShare, m.Equivariance, m.Invariance, m.Partners, m.PartnerCounts);

        public ChannelMatching ToMatching() => new()
        {
            Decisions = Decisions, MatchedChannels = MatchedChannels, OwnIndexShare = OwnIndexShare, DistinctShare = DistinctShare,
            Match = Match ?? [], MatchShare = MatchShare ?? [], Equivariance = Equivariance ?? [], Invariance = Invariance ?? [],
            Partners = Partners ?? [], PartnerCounts = PartnerCounts ?? [],
        };
    }
}
