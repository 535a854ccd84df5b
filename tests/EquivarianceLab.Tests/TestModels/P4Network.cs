namespace EquivarianceLab.Tests.TestModels;

/// <summary>
/// A P4 group CNN (rotations by multiples of 90°) on <c>[N,1,size,size]</c>, written as ONNX the way exporters of
/// group-equivariant libraries lay it out: orientations as channel groups <c>[N,C·4,H,W]</c> (channel c·4 + r), a
/// 5-d view <c>[N,C,4,H,W]</c> to pool over the orientation axis. Layers:
/// <list type="bullet">
/// <item><c>lift</c> → <c>lift_relu</c>: a lifting conv holding the 4 rotated copies of each filter;</item>
/// <item><c>gconv</c> → <c>gconv_relu</c>: a group conv whose filter for output orientation r is the base filter
/// rotated by r with its input orientations shifted cyclically by r;</item>
/// <item><c>group_view</c> → <c>group_pool</c>: the mean over the orientation axis (<c>[N,C,H,W]</c>);</item>
/// <item>a squeeze-and-excitation gate on the pooled map (<c>se_pool</c>, a ReduceMean to <c>[N,C,1,1]</c>);</item>
/// <item><c>pool</c> (GlobalAveragePool), <c>flat</c>, <c>logits</c> (Gemm) and optionally <c>probs</c> (Softmax).</item>
/// </list>
/// By construction rotating the input by 90° rotates every lifted and group-conv map and shifts its orientations
/// by one, so their rot90 equivariance is exactly 1.
/// </summary>
public static class P4Network
{
    public const int Orientations = 4;

    /// <param name="size">Input height and width.</param>
    /// <param name="channels">Channels per orientation.</param>
    /// <param name="softmax">End in a Softmax (<c>probs</c>) after the logits.</param>
    /// <param name="temperature">Divide the logits by a temperature (<c>scaled</c>) before the Softmax, so the
    /// graph's output does not come straight from the tensor called <c>logits</c>.</param>
    /// <param name="groupPoolLast">Pool space first (<c>space_pool</c>, <c>[N,C·4,1,1]</c>), then orientations
    /// (<c>invariant</c>, a ReduceMax to <c>[N,C]</c>) — no squeeze-and-excitation, no <c>pool</c>.</param>
    /// <param name="keepDims">The orientation pool keeps its axis (<c>[N,C,1,H,W]</c>) and a Reshape drops it (<c>group_pool</c>).</param>
    public static OnnxGraphBuilder Build(int size = 8, int channels = 2, int classes = 3, bool softmax = true,
        bool temperature = false, bool groupPoolLast = false, bool keepDims = false, int seed = 5)
    {
        var b = new OnnxGraphBuilder(opset: 13);
        var random = new Random(seed);
        float[] W(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        int c = channels, g = Orientations, gc = channels * Orientations;

        var x = b.Input("x", "N", 1, size, size);
        var lift = b.Relu(b.Conv(x, LiftingWeights(W(c * 9), c), [gc, 1, 3, 3], Repeat(W(c), g), pads: [1], output: "lift"), "lift_relu");
        var gconv = b.Relu(b.Conv(lift, GroupWeights(W(c * c * g * 9), c, c), [gc, gc, 3, 3], Repeat(W(c), g), pads: [1], output: "gconv"), "gconv_relu");

        string features;
        if (groupPoolLast)
        {
            var space = b.GlobalAveragePool(gconv, "space_pool");                                              // [N,C·4,1,1]
            var view = b.Reshape(space, [0, c, g], "space_view");                                             // [N,C,4]
            features = b.Node("ReduceMax", [view], "invariant", OnnxGraphBuilder.Ints("axes", 2), OnnxGraphBuilder.Int("keepdims", 0)); // [N,C]
        }
        else
        {
            var view = b.Reshape(gconv, [0, c, g, size, size], "group_view");                                 // [N,C,4,H,W]
            var pooled = keepDims
                ? b.Reshape(b.ReduceMean(view, [2], keepDims: true, output: "group_mean"), [0, c, size, size], "group_pool")
                : b.ReduceMean(view, [2], keepDims: false, output: "group_pool");                              // [N,C,H,W]
            var gate = b.Sigmoid(b.ReduceMean(pooled, [2, 3], keepDims: true, output: "se_pool"), "se_gate");  // [N,C,1,1]
            var scaled = b.Mul(pooled, gate, "se_scale");
            features = b.Flatten(b.GlobalAveragePool(scaled, "pool"), output: "flat");
        }
        var logits = b.Gemm(features, W(classes * c), classes, c, W(classes), "logits");
        if (temperature) logits = b.Node("Div", [logits, b.Initializer("temperature", [2f])], "scaled");
        if (softmax) logits = b.Softmax(logits, axis: 1, output: "probs");
        b.Output(logits, "N", classes);
        return b;
    }

    /// <summary>A 3×3 kernel turned by 90° r times (row-major; any fixed direction will do, used consistently).</summary>
    public static float[] Rotate(ReadOnlySpan<float> k, int r)
    {
        var result = k.ToArray();
        for (var t = 0; t < (r % 4 + 4) % 4; t++)
        {
            var next = new float[9];
            for (var i = 0; i < 3; i++)
                for (var j = 0; j < 3; j++)
                    next[i * 3 + j] = result[j * 3 + (2 - i)];
            result = next;
        }
        return result;
    }

    /// <summary>[C·4, 1, 3, 3]: output channel c·4 + r is base filter c turned r times.</summary>
    private static float[] LiftingWeights(float[] base9, int c)
    {
        var w = new float[c * Orientations * 9];
        for (var o = 0; o < c; o++)
            for (var r = 0; r < Orientations; r++)
                Rotate(base9.AsSpan(o * 9, 9), r).CopyTo(w, (o * Orientations + r) * 9);
        return w;
    }

    /// <summary>
    /// [D·4, C·4, 3, 3] from base filters ψ[d, c, s] (3×3 each): W[(d, r), (c, s)] = rot^r ψ[d, c, (s − r) mod 4].
    /// Then G(Rx)[d, r] = R·G(x)[d, r − 1] when F(Rx)[c, s] = R·F(x)[c, s − 1].
    /// </summary>
    private static float[] GroupWeights(float[] psi, int d, int c)
    {
        int g = Orientations;
        var w = new float[d * g * c * g * 9];
        for (var o = 0; o < d; o++)
            for (var r = 0; r < g; r++)
                for (var i = 0; i < c; i++)
                    for (var s = 0; s < g; s++)
                    {
                        var source = ((o * c + i) * g + ((s - r) % g + g) % g) * 9;
                        var target = (((o * g + r) * c + i) * g + s) * 9;
                        Rotate(psi.AsSpan(source, 9), r).CopyTo(w, target);
                    }
        return w;
    }

    /// <summary>Per-orientation copies of a per-channel bias (index c·4 + r).</summary>
    private static float[] Repeat(float[] perChannel, int g) => perChannel.SelectMany(v => Enumerable.Repeat(v, g)).ToArray();
}
