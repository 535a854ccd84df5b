namespace EquivarianceLab.FeatureModels.Onnx;

/// <summary>
/// The default measured layers of an ONNX graph (docs/models-and-probes.md, "ONNX graphs"), decided from the graph's
/// structure and the runtime shapes of one probe run. In node (forward) order:
/// <list type="number">
/// <item><b>Spatial layers</b>: outputs of activation nodes (<see cref="ActivationOps"/>) and of residual
/// <c>Add</c> nodes — both inputs computed from the image, so not a bias, an initializer or a Constant — whose
/// runtime shape is spatial (<c>[N,C,H,W]</c>, H·W ≥ 2) or token-shaped (<c>[N,T,D]</c>, T − p = s², s &gt; 1,
/// p ∈ {0,1,2}).</item>
/// <item><b>Pool</b>: the first tensor after the last spatial layer whose shape is a vector (<c>[N,C]</c> or
/// <c>[N,C,1,1]</c>): GlobalAveragePool's output in a CNN, the class token after the final norm in a ViT.
/// Squeeze-and-excitation pools come before the last spatial layer, so they are skipped.</item>
/// <item><b>Logits</b>: the graph's first output, or the input of the Softmax (or LogSoftmax) that produces
/// it; left out when it is the pool tensor (a featurizer has no logits).</item>
/// </list>
/// </summary>
internal static class OnnxLayerSelection
{
    public static readonly IReadOnlySet<string> ActivationOps = new HashSet<string>(StringComparer.Ordinal)
    {
        "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish",
        "Softplus", "Gelu", "Mish", "Clip",
    };

    /// <param name="graph">The graph.</param>
    /// <param name="tensors">Measurable tensors, in node order.</param>
    /// <param name="shapes">Runtime shapes (batch first) from the probe run.</param>
    /// <param name="logits">The logits tensor (after the pool rule), or null.</param>
    public static List<string> Default(OnnxGraph graph, IReadOnlyList<string> tensors,
        IReadOnlyDictionary<string, long[]> shapes, out string? logits)
    {
        var selected = new List<int>();
        for (var i = 0; i < tensors.Count; i++)
        {
            var node = graph.ProducerOf(tensors[i]);
            if (node is null || !(ActivationOps.Contains(node.OpType) || IsResidualAdd(graph, node))) continue;
            var shape = shapes[tensors[i]];
            if (IsSpatial(shape) || IsTokens(shape)) selected.Add(i);
        }

        var start = selected.Count > 0 ? selected[^1] + 1 : 0;
        int? pool = null;
        for (var i = start; i < tensors.Count && pool is null; i++)
            if (IsVector(shapes[tensors[i]])) pool = i;
        if (pool is { } p) selected.Add(p);

        logits = LogitsCandidate(graph, tensors);
        if (logits is not null && pool is { } q && tensors[q] == logits) logits = null;
        if (logits is not null)
        {
            var index = IndexOf(tensors, logits);
            if (!selected.Contains(index)) selected.Add(index);
        }
        selected.Sort();
        return selected.Select(i => tensors[i]).ToList();
    }

    /// <summary>The graph's first output, or the input of the Softmax that produces it, if it is measurable.</summary>
    public static string? LogitsCandidate(OnnxGraph graph, IReadOnlyList<string> tensors)
    {
        var output = graph.FirstOutput;
        if (output is null) return null;
        if (graph.ProducerOf(output) is { OpType: "Softmax" or "LogSoftmax" } softmax) output = softmax.Input[0];
        return tensors.Contains(output) ? output : null;
    }

    public static bool IsSpatial(long[] shape) => shape.Length == 4 && shape[2] * shape[3] >= 2;

    public static bool IsVector(long[] shape) => shape.Length == 2 || (shape.Length == 4 && shape[2] == 1 && shape[3] == 1);

    /// <summary>
    /// [N, T, D] with T − p a square s² (s &gt; 1) for a prefix p of 0, 1 or 2 tokens
    /// (docs/measure.md, "Feature tensors").
    /// </summary>
    public static bool IsTokens(long[] shape)
    {
        if (shape.Length != 3) return false;
        for (var p = 0; p <= 2; p++)
        {
            var n = shape[1] - p;
            var s = (long)Math.Round(Math.Sqrt(n));
            if (n > 1 && s > 1 && s * s == n) return true;
        }
        return false;
    }

    private static bool IsResidualAdd(OnnxGraph graph, global::Onnx.NodeProto node) =>
        node.OpType == "Add" && node.Input.Count == 2 && node.Input.All(graph.IsComputed);

    private static int IndexOf(IReadOnlyList<string> list, string value)
    {
        for (var i = 0; i < list.Count; i++)
            if (list[i] == value) return i;
        return -1;
    }
}
