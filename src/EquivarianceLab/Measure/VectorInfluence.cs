using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Measure;

/// <summary>
/// Each image's influence on a vector layer's score, where every channel's similarity is a correlation (pearson) or
/// cosine over the N images (docs/measure.md, "Uncertainty").
/// </summary>
public static class VectorInfluence
{
    /// <summary>
    /// For unit vectors <c>a, b: [1, C, N]</c> (as <see cref="Similarity.Normalize"/> makes them). With image weights
    /// w, S(x, y) = Σ w x y / √(Σ w x² · Σ w y²) on the centred (pearson) or raw (cosine) values; at w = 1 its
    /// derivative for image n is a_n·b_n − S/2·(a_n² + b_n²) (centring adds nothing, as the centred values sum to 0).
    /// The equivariance holds each channel's best partner c′ (<paramref name="partner"/> <c>[1, C]</c>, as the score
    /// chose it) fixed. The layer's influence is the mean over the channels its score averages.
    /// </summary>
    public static ImageInfluence Of(Tensor unitA, Tensor validA, Tensor unitB, Tensor validB, Tensor partner)
    {
        using var scope = NewDisposeScope();
        var a = unitA[0].to_type(ScalarType.Float64); // [C, N]
        var b = unitB[0].to_type(ScalarType.Float64);
        var va = validA[0];
        var vb = validB[0];
        var invariance = Influence(a, b, a.mul(b).sum([-1L]), va.logical_and(vb));
        var partnerOf = b.index_select(0, partner[0]);
        var equivariance = Influence(a, partnerOf, a.mul(partnerOf).sum([-1L]), va.logical_and(vb.any()));
        return new ImageInfluence(invariance, equivariance);
    }

    private static double[]? Influence(Tensor a, Tensor b, Tensor similarity, Tensor valid)
    {
        long channels = valid.sum().item<long>();
        if (channels == 0) return null;
        var squares = a.square().Plus(b.square());
        var z = a.mul(b).sub(similarity.unsqueeze(-1).mul(squares).Times(0.5)); // [C, N]
        return z.MaskedFill(valid.logical_not().unsqueeze(-1), 0).sum([0L]).Over((double)channels).data<double>().ToArray();
    }
}
