using EquivarianceLab.Measure;
using EquivarianceLab.FeatureModels;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Measure;

public class PartsTests
{
    private sealed class Named(IReadOnlyList<string> layers, string? logits) : IFeatureModel
    {
        public string Name => "named";
        public IReadOnlyList<long> InputShape => [1, -1, -1];
        public IReadOnlyList<string> Layers => layers;
        public string? LogitsLayer => logits;
        public IReadOnlyList<Tensor> Forward(Tensor batch) => throw new NotSupportedException();
        public void Dispose() { }
    }

    [Fact]
    public void Spatial_layers_split_into_thirds_by_index_then_pool_and_final()
    {
        // K = 7: ⌊3i/7⌋ = 0,0,0,1,1,2,2
        var names = Enumerable.Range(0, 7).Select(i => $"s{i}").Concat(["gap", "flat", "fc"]).ToList();
        var kinds = names.Select(n => n.StartsWith('s') ? LayerKind.Spatial : LayerKind.Vector).ToList();
        var parts = EquivarianceMeasure.AssignParts(new Named(names, "fc"), names.Zip(kinds).ToList());
        Assert.Equal(new string?[] { "Early", "Early", "Early", "Middle", "Middle", "Late", "Late", "Pool", null, "Final" }, parts.AsEnumerable());
    }

    [Fact]
    public void A_featurizer_has_pool_but_no_final()
    {
        var names = new[] { "a", "b", "pool" };
        var parts = EquivarianceMeasure.AssignParts(new Named(names, null),
            [("a", LayerKind.Spatial), ("b", LayerKind.Spatial), ("pool", LayerKind.Vector)]);
        Assert.Equal(new string?[] { "Early", "Middle", "Pool" }, parts.AsEnumerable());
    }

    [Fact]
    public void A_vector_layer_called_logits_is_final_only_when_the_model_names_no_logits_among_the_layers()
    {
        (string, LayerKind)[] layers = [("s", LayerKind.Spatial), ("pool", LayerKind.Vector), ("logits", LayerKind.Vector)];
        Assert.Equal(new string?[] { "Early", "Pool", "Final" }, EquivarianceMeasure.AssignParts(new Named(["s", "pool", "logits"], null), layers).AsEnumerable());
        Assert.Equal(new string?[] { "Early", "Pool", "Final" }, EquivarianceMeasure.AssignParts(new Named(["s", "pool", "logits"], "scaled"), layers).AsEnumerable());
        // The model's own logits layer, when measured, is the Final one.
        (string, LayerKind)[] both = [("s", LayerKind.Spatial), ("logits", LayerKind.Vector), ("fc", LayerKind.Vector)];
        Assert.Equal(new string?[] { "Early", "Pool", "Final" }, EquivarianceMeasure.AssignParts(new Named(["s", "logits", "fc"], "fc"), both).AsEnumerable());
    }

    [Fact]
    public void Part_scores_are_means_over_layers_and_missing_parts_are_absent()
    {
        var layers = new List<LayerResult>
        {
            Layer("a", "Early", 0.2, 0.6), Layer("b", "Early", 0.4, 1.0), Layer("c", "Pool", 0.9, 0.95), Layer("d", null, 0.1, 0.1),
        };
        var parts = EquivarianceMeasure.AggregateParts(layers);
        Assert.Equal(["Early", "Pool"], parts.Keys);
        Assert.Equal(0.3, parts["Early"].Invariance!.Value, 12);
        Assert.Equal(0.8, parts["Early"].Equivariance!.Value, 12);
        Assert.Equal(2, parts["Early"].Layers);
    }

    [Theory]
    [InlineData(new long[] { 2, 5, 8 }, LayerKind.Spatial, 1)]    // class token + 2×2
    [InlineData(new long[] { 2, 16, 8 }, LayerKind.Spatial, 0)]   // 4×4
    [InlineData(new long[] { 2, 18, 8 }, LayerKind.Spatial, 2)]   // class + distillation + 4×4
    [InlineData(new long[] { 2, 8, 1, 1 }, LayerKind.Vector, 0)]
    [InlineData(new long[] { 2, 8 }, LayerKind.Vector, 0)]
    [InlineData(new long[] { 2, 8, 1, 2 }, LayerKind.Spatial, 0)]
    public void Layouts(long[] shape, LayerKind kind, int prefix)
    {
        var layout = FeatureLayout.Of("x", shape);
        Assert.Equal(kind, layout.Kind);
        Assert.Equal(prefix, layout.PrefixTokens);
    }

    [Theory]
    [InlineData(new long[] { 2, 7, 8 })]
    [InlineData(new long[] { 2, 3, 4, 5, 6 })]
    [InlineData(new long[] { 2 })]
    public void Other_shapes_are_clear_errors_naming_the_layer(long[] shape)
    {
        var e = Assert.Throws<EquivarianceLabException>(() => FeatureLayout.Of("blocks.3", shape));
        Assert.Contains("blocks.3", e.Message);
        Assert.Contains(string.Join(",", shape), e.Message);
    }

    [Fact]
    public void Tokens_become_a_row_major_grid_without_the_prefix()
    {
        // [1, 1+4, 2]: token t (after the class token) holds (10t, 10t+1)
        var data = new float[] { -1, -1, 0, 1, 10, 11, 20, 21, 30, 31 };
        using var tokens = tensor(data, [1, 5, 2]);
        using var grid = FeatureLayout.Of("t", tokens.shape).Canonical(tokens);
        Assert.Equal([1L, 2, 2, 2], grid.shape);
        Assert.Equal([0f, 10, 20, 30, 1, 11, 21, 31], grid.contiguous().data<float>().ToArray());
    }

    private static LayerResult Layer(string name, string? part, double inv, double eqv) => new()
    {
        Name = name, Index = 0, Part = part, Shape = [1], Invariance = inv, Equivariance = eqv, PerTransform = [],
    };
}
