using EquivarianceLab.Compute;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Measure;

/// <summary>
/// Unit-length channel vectors for the similarity S (docs/measure.md, "Similarity"): centred first for pearson. A
/// vector is degenerate when its (centred) norm is ≤ 1e-6 × its raw norm, or its raw norm is 0; degenerate vectors
/// become zero and are flagged invalid so they take part in no similarity.
/// </summary>
public static class Similarity
{
    public const double DegenerateTolerance = 1e-6;

    /// <summary>Normalises along the last dimension. Returns the unit vectors and a bool mask of valid (non-degenerate) vectors.</summary>
    public static (Tensor Unit, Tensor Valid) Normalize(Tensor x, SimilarityKind kind) => NormalizeInPlace(x.clone(), kind);

    /// <summary><see cref="Normalize"/>, overwriting <paramref name="x"/> (which must be a tensor the caller owns).</summary>
    public static (Tensor Unit, Tensor Valid) NormalizeInPlace(Tensor x, SimilarityKind kind)
    {
        if (kind == SimilarityKind.Pearson)
        {
            long length = x.shape[^1];
            var mean = x.mean([-1L], keepdim: true);
            var norm = x.sub_(mean).norm(-1, keepdim: true);
            // |x|² = |x − x̄|² + L·x̄², so the raw norm needs no pass of its own.
            var centredSquared = norm.square();
            var rawSquared = centredSquared.Plus(mean.square().TimesInPlace(length));
            var valid = rawSquared.GreaterThan(0).logical_and_(centredSquared > rawSquared.Times(DegenerateTolerance * DegenerateTolerance));
            return (x.mul_(valid / norm.ClampedBelow(1e-30)), valid.squeeze(-1));
        }
        else
        {
            var raw = x.norm(-1, keepdim: true);
            var valid = raw.GreaterThan(0);
            return (x.mul_(valid / raw.ClampedBelow(1e-30)), valid.squeeze(-1));
        }
    }

    /// <summary>
    /// For unit vectors <c>a, b: [G, C, L]</c> (G independent groups: images for spatial layers, one for vector layers)
    /// accumulates the invariance S(a_c, b_c) and the equivariance max over valid c′ of S(a_c, b_c′), using one
    /// batched matrix product per chunk of groups. With <paramref name="choices"/>, fills it with each channel's best
    /// c′, that similarity and the c′ = c one (<see cref="ChannelChoices"/>, groups outer) and returns the best c′ as
    /// <c>[G, C]</c> (the caller disposes it); otherwise returns null.
    /// </summary>
    public static Tensor? Accumulate(Tensor a, Tensor validA, Tensor b, Tensor validB, ScoreAccumulator into, ChannelChoices? choices = null)
    {
        using var scope = NewDisposeScope();
        long groups = a.shape[0], channels = a.shape[1];
        var pairValid = validA.logical_and(validB);
        var eqValid = validA.logical_and(validB.any(-1, keepdim: true));
        // Degenerate partners must not take part in the max over c′. When the vectors are shorter than the channel
        // count, copying a valid partner over them (L values each) is cheaper than masking the C × C similarities;
        // a copy would be an equally good partner, so when partners are asked for the columns are masked.
        bool partners = choices is not null;
        bool allValid = validB.all().item<bool>(), maskColumns = !allValid && (partners || b.shape[2] >= channels);
        var bt = (allValid || maskColumns ? b : ExcludeInvalid(b, validB)).transpose(1, 2);
        var invalidColumns = maskColumns ? validB.logical_not().unsqueeze(1) : null; // [g, 1, C′]
        // Chunks of about 2 M similarities (8 MiB): the max reads what the product has just written from cache, and
        // there are few enough chunks that per-call overhead stays small.
        long chunk = Math.Max(1, Math.Min(groups, SimilarityBlock / Math.Max(1, channels * channels)));
        // On the vectors' device (a GPU keeps its features there); only the sums come back to the CPU.
        var diag = empty(groups, channels, device: a.device);
        var best = empty(groups, channels, device: a.device);
        var partner = partners ? empty(groups, channels, dtype: ScalarType.Int64, device: a.device) : null;
        for (long start = 0; start < groups; start += chunk)
        {
            long len = Math.Min(chunk, groups - start);
            using var inner = NewDisposeScope();
            var sims = bmm(a.narrow(0, start, len), bt.narrow(0, start, len)); // [g, C, C′]
            diag.narrow(0, start, len).copy_(sims.diagonal(0, 1, 2));          // the invariance pairs (the valid ones are counted)
            if (invalidColumns is not null) sims.MaskedFillInPlace(invalidColumns.narrow(0, start, len), double.NegativeInfinity);
            if (partner is null)
            {
                best.narrow(0, start, len).copy_(sims.amax([-1L]));
            }
            else
            {
                var (values, indexes) = sims.max(-1);
                best.narrow(0, start, len).copy_(values);
                partner.narrow(0, start, len).copy_(indexes);
            }
        }
        // E ≥ I per pair, exactly: the diagonal is one of the candidates.
        best = maximum(best, diag.MaskedFill(pairValid.logical_not(), double.NegativeInfinity));
        // A similarity is within [−1, 1]; float32 products of unit vectors can pass 1 by about 1e-6 where a channel
        // matches perfectly (the equivariant control), which no score or interval should show.
        diag = diag.Clamped(-1.0, 1.0);
        best = best.Clamped(-1.0, 1.0);
        into.Add(
            diag.masked_select(pairValid).sum(ScalarType.Float64).item<double>(), pairValid.sum().item<long>(),
            best.masked_select(eqValid).sum(ScalarType.Float64).item<double>(), eqValid.sum().item<long>());
        // Each group's own sums and counts, for the standard error over images (the totals above stay as they were).
        if (into.KeepsImages)
            into.AddImages(SumPerGroup(diag, pairValid), CountPerGroup(pairValid), SumPerGroup(best, eqValid), CountPerGroup(eqValid));
        if (choices is null) return null;
        choices.Resize(checked((int)groups), checked((int)channels));
        TensorMemory.ToArray<int>(partner!.MaskedFill(eqValid.logical_not(), -1).to_type(ScalarType.Int32)).CopyTo(choices.Partner, 0);
        TensorMemory.ToArray<float>(best.MaskedFill(eqValid.logical_not(), double.NaN)).CopyTo(choices.Best, 0);
        TensorMemory.ToArray<float>(diag.MaskedFill(pairValid.logical_not(), double.NaN)).CopyTo(choices.Diagonal, 0);
        return partner!.MoveToOuterDisposeScope();
    }

    private static double[] SumPerGroup(Tensor values, Tensor valid) =>
        TensorMemory.ToArray<double>(values.MaskedFill(valid.logical_not(), 0).sum([-1L], type: ScalarType.Float64));

    private static double[] CountPerGroup(Tensor valid) => TensorMemory.ToArray<double>(valid.sum([-1L], type: ScalarType.Float64));

    /// <summary>Similarities per chunk of groups in <see cref="Accumulate"/>.</summary>
    private const long SimilarityBlock = 2L << 20;

    /// <summary>
    /// Replaces each degenerate vector of <paramref name="b"/> [G, C, L] by a copy of its group's first valid one: a
    /// duplicate cannot change the max over c′, so the max over all columns is the max over the valid ones, without a
    /// masking pass over the [G, C, C] similarities. (A group with no valid vector counts for nothing either way.)
    /// </summary>
    private static Tensor ExcludeInvalid(Tensor b, Tensor valid)
    {
        var first = valid.to_type(ScalarType.Int32).argmax(-1);                        // [G]: first valid index (0 if none)
        var substitute = b.gather(1, first.view(-1, 1, 1).expand(-1, 1, b.shape[2])); // [G, 1, L]
        return where(valid.unsqueeze(-1), b, substitute);
    }
}
