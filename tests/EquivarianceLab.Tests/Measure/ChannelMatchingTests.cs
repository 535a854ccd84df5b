using EquivarianceLab.FeatureModels;
using EquivarianceLab.FeatureModels.Onnx;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;
using EquivarianceLab.Tests.Determinism;
using EquivarianceLab.Tests.Onnx;
using EquivarianceLab.Tests.TestModels;

namespace EquivarianceLab.Tests.Measure;

/// <summary>
/// Which channel each channel becomes (docs/measure.md, "Channel matching"): the tallies against counts made by hand,
/// a P4 network whose matching is a known permutation by construction, and a trained plain CNN whose is not.
/// </summary>
public class ChannelMatchingTests
{
    [Fact]
    public void The_tallies_give_each_channels_most_frequent_partner_its_share_and_mean_similarities()
    {
        // 3 channels, 4 images over two batches. Channel 0 picks 2, 2, 1, 2; channel 1 picks 0, 1, 1, 0 (a tie of two
        // each: the smaller index wins); channel 2 has no partner in image 1 (−1) and no pair in images 1 and 3 (NaN).
        var accumulator = new ChannelMatchAccumulator();
        accumulator.Add(Choices(
            partner: [2, 0, 2, /**/ 2, 1, -1],
            best: [0.9f, 0.5f, 0.7f, /**/ 0.8f, 0.6f, float.NaN],
            diagonal: [0.1f, 0.5f, 0.7f, /**/ 0.2f, 0.4f, float.NaN]));
        accumulator.Add(Choices(
            partner: [1, 1, 2, /**/ 2, 0, 2],
            best: [0.4f, 0.6f, 0.9f, /**/ 0.7f, 0.3f, 1.0f],
            diagonal: [0.3f, 0.6f, 0.9f, /**/ 0.0f, 0.3f, float.NaN]));
        var m = accumulator.ToMatching();

        Assert.Equal(4, m.Decisions);
        Assert.Equal(3, m.MatchedChannels);
        var (c0, c1, c2) = (m.Row(0), m.Row(1), m.Row(2));
        Assert.Equal(2, c0.Match);
        Assert.Equal(0.75f, c0.MatchShare);
        Assert.Equal([2, 1], c0.Partners);
        Assert.Equal([3, 1], c0.PartnerCounts);
        Assert.Equal((0.9 + 0.8 + 0.4 + 0.7) / 4, c0.Equivariance!.Value, 1e-4);
        Assert.Equal((0.1 + 0.2 + 0.3 + 0.0) / 4, c0.Invariance!.Value, 1e-4);
        Assert.Equal(0, c1.Match);
        Assert.Equal(0.5f, c1.MatchShare);
        Assert.Equal([0, 1], c1.Partners);
        Assert.Equal(2, c2.Match);
        Assert.Equal(1f, c2.MatchShare);
        Assert.Equal((0.7 + 0.9 + 1.0) / 3, c2.Equivariance!.Value, 1e-4);
        Assert.Equal((0.7 + 0.9) / 2, c2.Invariance!.Value, 1e-4);
        // Matches 2, 0, 2: two distinct of three channels; channel 2 is matched to itself.
        Assert.Equal(2.0 / 3, m.DistinctShare!.Value, 12);
        Assert.Equal(1.0 / 3, m.OwnIndexShare!.Value, 12);
    }

    [Fact]
    public void A_channel_that_never_has_a_partner_has_no_match_and_does_not_count()
    {
        var accumulator = new ChannelMatchAccumulator();
        accumulator.Add(Choices(partner: [1, -1], best: [0.5f, float.NaN], diagonal: [float.NaN, float.NaN], channels: 2));
        var m = accumulator.ToMatching();
        Assert.Equal(1, m.MatchedChannels);
        Assert.Null(m.Match[1]);
        Assert.Null(m.Equivariance[1]);
        Assert.Null(m.Invariance[0]);
        Assert.Empty(m.Partners[1]);
        Assert.Equal(1.0, m.DistinctShare);
        Assert.Equal(0.0, m.OwnIndexShare);
    }

    [Fact]
    public void Only_the_most_chosen_partners_are_kept_for_the_heat_map()
    {
        var accumulator = new ChannelMatchAccumulator();
        // One channel, 8 images choosing 7, 6, 5, 4, 3, 2, 1, 7: partner 7 twice, the others once.
        accumulator.Add(Choices(partner: [7, 6, 5, 4, 3, 2, 1, 7], best: [.. Enumerable.Repeat(0.5f, 8)], diagonal: [.. Enumerable.Repeat(0.1f, 8)], channels: 1));
        var row = accumulator.ToMatching().Row(0);
        Assert.Equal([7, 1, 2, 3, 4], row.Partners);
        Assert.Equal([2, 1, 1, 1, 1], row.PartnerCounts);
    }

    /// <summary>
    /// Many images and partners (the per-channel tables grow several times, each moving within its block's array): every
    /// channel's counts, top five and match equal a plain count-and-sort of the same decisions, whatever the batching.
    /// 150 channels make three blocks of tables, the last one partly filled; the tables start small when the number of
    /// images is not given, and at their largest first size when it is. With partners drawn from the layer's own
    /// channels and images enough, the counts are dense (one per channel and partner) and must give the same.
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void The_tallies_equal_a_plain_count_and_sort_of_many_decisions(bool sizedForTheImages, bool partnersAreChannels)
    {
        const int channels = 150, images = 600;
        var random = new Random(11);
        // Channel c draws from 1 + 3c partners at most (or from the 150 channels), skewed to small indices, so counts
        // tie and tables grow.
        var partners = new int[images * channels];
        for (int i = 0; i < images; i++)
            for (int c = 0; c < channels; c++)
                partners[i * channels + c] = random.Next(3) == 0 ? -1
                    : (int)Math.Floor(Math.Pow(random.NextDouble(), 2) * (partnersAreChannels ? channels : 1 + 3 * c));
        var accumulator = sizedForTheImages ? new ChannelMatchAccumulator(images, partnersAreChannels) : new ChannelMatchAccumulator();
        foreach (var (start, count) in new[] { (0, 7), (7, 300), (307, 293) })
        {
            var slice = partners.AsSpan(start * channels, count * channels).ToArray();
            accumulator.Add(Choices(partner: slice, best: [.. slice.Select(p => p < 0 ? float.NaN : 0.5f)],
                diagonal: [.. slice.Select(_ => 0.25f)], channels: channels));
        }
        var m = accumulator.ToMatching();
        Assert.Equal(images, m.Decisions);
        for (int c = 0; c < channels; c++)
        {
            var expected = Enumerable.Range(0, images).Select(i => partners[i * channels + c]).Where(p => p >= 0)
                .GroupBy(p => p).Select(g => (Partner: g.Key, Count: g.Count()))
                .OrderByDescending(g => g.Count).ThenBy(g => g.Partner).Take(ChannelMatchAccumulator.KeptPartners).ToArray();
            var row = m.Row(c);
            Assert.Equal(expected.Select(e => e.Partner), row.Partners);
            Assert.Equal(expected.Select(e => e.Count), row.PartnerCounts);
            Assert.Equal(expected[0].Partner, row.Match);
        }
    }

    /// <summary>Dense counts index partners by channel: a partner outside the layer's channels is an error, never a count of another channel.</summary>
    [Fact]
    public void Dense_counts_refuse_a_partner_outside_the_layers_channels()
    {
        var accumulator = new ChannelMatchAccumulator(images: 8, partnersAreChannels: true);
        var partner = new[] { 0, 1, 2, 3 };
        accumulator.Add(Choices(partner: partner, best: [0.5f, 0.5f, 0.5f, 0.5f], diagonal: [0.2f, 0.2f, 0.2f, 0.2f], channels: 4));
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            accumulator.Add(Choices(partner: [0, 1, 2, 4], best: [0.5f, 0.5f, 0.5f, 0.5f], diagonal: [0.2f, 0.2f, 0.2f, 0.2f], channels: 4)));
    }

    /// <summary>
    /// The measure tallies a transform's layers in one call (one parallel loop over all their blocks of channels): each
    /// layer's tallies equal those it gets alone.
    /// </summary>
    [Fact]
    public void Several_layers_tallied_together_equal_each_tallied_alone()
    {
        var random = new Random(5);
        var layers = new[] { (Channels: 200, Images: 30), (Channels: 3, Images: 30), (Channels: 70, Images: 30) }.Select(shape =>
        {
            var partner = Enumerable.Range(0, shape.Channels * shape.Images).Select(_ => random.Next(-1, shape.Channels)).ToArray();
            return Choices(partner: partner, best: [.. partner.Select(p => p < 0 ? float.NaN : (float)random.NextDouble())],
                diagonal: [.. partner.Select(_ => (float)random.NextDouble())], channels: shape.Channels);
        }).ToArray();
        var alone = layers.Select(choices => { var a = new ChannelMatchAccumulator(); a.Add(choices); a.Add(choices); return a; }).ToArray();
        var together = layers.Select(_ => new ChannelMatchAccumulator()).ToArray();
        for (int twice = 0; twice < 2; twice++)
            ChannelMatchAccumulator.AddAll([.. together.Zip(layers)]);
        for (int k = 0; k < layers.Length; k++)
        {
            var (a, b) = (alone[k].ToMatching(), together[k].ToMatching());
            Assert.Equal(2 * layers[k].Images, b.Decisions);
            Assert.Equal(System.Text.Json.JsonSerializer.Serialize(a), System.Text.Json.JsonSerializer.Serialize(b));
        }
    }

    /// <summary>
    /// The P4 network's lifted and group-conv maps under a quarter turn: channel (c, s) of f(gX) is g·f(X) of channel
    /// (c, s ∓ k) exactly, so every channel's match is that one in every image (share 1), no two channels share a
    /// match (distinct share 1.0) and none keeps its own index.
    /// </summary>
    [Fact]
    public void A_P4_networks_group_conv_channels_match_as_a_permutation_of_their_orientations()
    {
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(P4Network.Build(size: 12, channels: 3)));
        using var probe = new TensorProbeSet("random", OnnxTestGraphs.Images(10, 1, 12, 12));
        var result = EquivarianceMeasure.Run(model, probe, new MeasureOptions { BatchSize = 4 });

        foreach (var name in new[] { "lift_relu", "gconv_relu" })
        {
            var layer = result.Layers.Single(l => l.Name == name);
            int? direction = null;
            foreach (var (key, k) in new[] { ("rot90", 1), ("rot180", 2), ("rot270", 3) })
            {
                var m = layer.Matching![key];
                Assert.Equal(10, m.Decisions);
                Assert.Equal(12, m.MatchedChannels);
                Assert.Equal(1.0, m.DistinctShare);
                Assert.Equal(0.0, m.OwnIndexShare);
                foreach (var row in m.Rows())
                {
                    Assert.Equal(1f, row.MatchShare);
                    Assert.True(row.Equivariance > 0.9999f, $"{name}/{key} channel {row.Channel}: {row.Equivariance}");
                    int c = row.Channel / P4Network.Orientations, s = row.Channel % P4Network.Orientations;
                    // Which way the orientations turn depends on the filters' rotation convention; it must be one
                    // way for every channel and quarter turn.
                    int shift = ((row.Match!.Value % P4Network.Orientations) - s + 4 * P4Network.Orientations) % P4Network.Orientations;
                    Assert.Equal(c, row.Match.Value / P4Network.Orientations);
                    direction ??= shift == k ? 1 : -1;
                    Assert.Equal(((direction.Value * k) % 4 + 4) % 4, shift);
                }
            }
        }
    }

    /// <summary>A continuous quarter turn matches the P4 network's channels exactly as rot90 does.</summary>
    [Fact]
    public void A_continuous_quarter_turn_matches_a_P4_network_as_rot90_does()
    {
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(P4Network.Build(size: 12, channels: 3)));
        using var probe = new TensorProbeSet("random", OnnxTestGraphs.Images(6, 1, 12, 12));
        var discrete = EquivarianceMeasure.Run(model, probe, new MeasureOptions());
        var continuous = EquivarianceMeasure.Run(model, probe, new MeasureOptions { Transform = TransformFamily.RotationContinuous, Angles = [90, 45] });
        foreach (var name in new[] { "lift_relu", "gconv_relu" })
        {
            var (d, c) = (discrete.Layers.Single(l => l.Name == name).Matching!["rot90"], continuous.Layers.Single(l => l.Name == name).Matching!["rot90"]);
            Assert.Equal(d.Match, c.Match);
            Assert.Equal(1.0, c.DistinctShare);
            // At 45° the orientation channels have no exact partner.
            var at45 = continuous.Layers.Single(l => l.Name == name).Matching!["rot45"];
            Assert.True(at45.Equivariance.Average(v => v!.Value) < c.Equivariance.Average(v => v!.Value) - 0.05, name);
        }
    }

    /// <summary>
    /// A trained plain CNN (the zoo's 7-layer CNN on FMNIST-6) has no such structure: under a quarter turn several of
    /// its channels pick the same partner, at every convolutional layer.
    /// </summary>
    [Fact]
    public void A_trained_plain_cnns_matching_is_not_a_permutation()
    {
        var models = RepositoryPaths.ModelsFolder ?? throw new InvalidOperationException("The repository's models/ folder was not found.");
        var (model, probe) = MeasurementInputs.Open(Path.Combine(models, "cnn7-fmnist6"), Path.Combine(models, DeterminismSources.FashionMnistProbe));
        using var _ = model;
        using var __ = probe;
        var result = EquivarianceMeasure.Run(model, probe, new MeasureOptions { Images = 64 });
        var spatial = result.Layers.Where(l => l.Shape.Length == 3).ToList();
        Assert.NotEmpty(spatial);
        foreach (var layer in spatial)
        {
            var m = layer.Matching!["rot90"];
            Assert.True(m.DistinctShare < 1.0, $"{layer.Name}: distinct share {m.DistinctShare}");
        }
    }

    private static ChannelChoices Choices(int[] partner, float[] best, float[] diagonal, int channels = 3)
    {
        var choices = new ChannelChoices().Resize(partner.Length / channels, channels);
        partner.CopyTo(choices.Partner, 0);
        best.CopyTo(choices.Best, 0);
        diagonal.CopyTo(choices.Diagonal, 0);
        return choices;
    }
}
