using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Measure;

/// <summary>
/// One spatial layer and one resampled g (docs/measure.md, "Continuous transforms"): f(gX) against g·f(X) on the
/// layer's valid region. Resampling is no permutation, so f(gX) cannot be moved back exactly as the permutation path
/// does; the reference is moved forward instead, once per g. Both sides keep the same positions for every image and
/// channel, and are normalised over those positions only (pearson centres there), then go through the batched product.
/// </summary>
public static class ResampledComparison
{
    /// <param name="moved">f(gX), <c>[N, C, h, w]</c>.</param>
    /// <param name="plain">f(X), <c>[N, C, h, w]</c>.</param>
    /// <param name="choices">When given, each image and channel's best partner (channel matching), as the batched product decides it.</param>
    public static void Accumulate(Tensor moved, Tensor plain, ResampledTransform g, long inputHeight, long inputWidth,
        SimilarityKind kind, ScoreAccumulator into, ChannelChoices? choices = null)
    {
        var positions = g.ValidPositions(moved.shape[^2], moved.shape[^1], inputHeight, inputWidth);
        // One position has no spread to correlate and no pattern to compare: such a layer scores null, as a layer
        // with no valid pair does.
        if (positions.Length < 2)
        {
            choices?.Unmatched(checked((int)moved.shape[0]), checked((int)moved.shape[1]));
            return;
        }
        using var scope = NewDisposeScope();
        var index = tensor(positions, device: moved.device);
        // index_select copies, so both sides can be normalised in place.
        var a = Valid(moved.to_type(ScalarType.Float32), index);
        var b = Valid(g.ApplyToFeature(plain.to_type(ScalarType.Float32), inputHeight, inputWidth), index);
        var (unitA, validA) = Similarity.NormalizeInPlace(a, kind);
        var (unitB, validB) = Similarity.NormalizeInPlace(b, kind);
        Similarity.Accumulate(unitA, validA, unitB, validB, into, choices)?.Dispose();
    }

    /// <summary><c>[N, C, h, w]</c> → <c>[N, C, valid positions]</c>.</summary>
    private static Tensor Valid(Tensor spatial, Tensor index) =>
        spatial.reshape(spatial.shape[0], spatial.shape[1], -1).index_select(2, index);
}
