namespace EquivarianceLab.FeatureModels.Onnx;

/// <summary>
/// The default measured layers of an ONNX graph (docs/models-and-probes.md, "ONNX graphs"), decided from the graph's
/// structure and the runtime shapes of one probe run. In node (forward) order:
/// <list type="number">
/// <item><b>Spatial layers</b>: tensors whose runtime shape is spatial (<c>[N,C,H,W]</c>, H·W ≥ 2) or token-shaped
/// (<c>[N,T,D]</c>, T − p = s², s &gt; 1, p ∈ {0,1,2}) and that are the output of an activation node
/// (<see cref="ActivationOps"/>), of a residual <c>Add</c> — both inputs computed from the image, so not a bias, an
/// initializer or a Constant — or of a <b>group pool</b>: a reduction (<see cref="ReductionOps"/>) of a tensor of rank
/// 5 or more, e.g. <c>[N,C,4,H,W]</c> → <c>[N,C,H,W]</c> over a P4 network's orientation axis (also when it keeps the
/// pooled axis and a Squeeze, Reshape or Flatten then drops it).</item>
/// <item><b>Pool</b>: the last <b>global pool</b> the logits (else the graph's output) are computed from — a reduction
/// whose input holds more than one value per channel and whose output is a vector (<c>[N,C]</c> or
/// <c>[N,C,1,1]</c>). Pools inside blocks (squeeze-and-excitation) come earlier; group pools give no vector. A graph
/// without one (a ViT's class token is a Gather) falls back to the first vector after the last spatial layer.</item>
/// <item><b>Logits</b>: the tensor the caller names, else the graph's first output, or the input of the Softmax (or
/// LogSoftmax) that produces it; left out when it is the pool tensor (a featurizer has no logits).</item>
/// </list>
/// </summary>
internal static class OnnxLayerSelection
{
    public static readonly IReadOnlySet<string> ActivationOps = new HashSet<string>(StringComparer.Ordinal)
    {
        "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish",
        "Softplus", "Gelu", "Mish", "Clip",
    };

    /// <summary>Ops that pool values away: global and windowed pools and every Reduce*.</summary>
    public static readonly IReadOnlySet<string> ReductionOps = new HashSet<string>(StringComparer.Ordinal)
    {
        "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "AveragePool", "MaxPool", "LpPool",
        "ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2",
        "ReduceLogSumExp", "ReduceSumSquare",
    };

    /// <param name="graph">The graph.</param>
    /// <param name="tensors">Measurable tensors, in node order.</param>
    /// <param name="shapes">Runtime shapes (batch first) from the probe run.</param>
    /// <param name="namedLogits">The tensor the caller names as logits (one of <paramref name="tensors"/>), or null for the graph's own.</param>
    /// <param name="logits">The logits tensor (after the pool rule), or null.</param>
    public static List<string> Default(OnnxGraph graph, IReadOnlyList<string> tensors,
        IReadOnlyDictionary<string, long[]> shapes, string? namedLogits, out string? logits)
    {
        var selected = new List<int>();
        for (var i = 0; i < tensors.Count; i++)
        {
            var node = graph.ProducerOf(tensors[i]);
            if (node is null) continue;
            if (!(ActivationOps.Contains(node.OpType) || IsResidualAdd(graph, node) || IsGroupPool(graph, node, shapes))) continue;
            var shape = shapes[tensors[i]];
            if (IsSpatial(shape) || IsTokens(shape)) selected.Add(i);
        }

        logits = namedLogits ?? LogitsCandidate(graph, tensors);
        var pool = GlobalPool(graph, tensors, shapes, logits ?? graph.FirstOutput);
        if (pool is null)
        {
            var start = selected.Count > 0 ? selected[^1] + 1 : 0;
            for (var i = start; i < tensors.Count && pool is null; i++)
                if (IsVector(shapes[tensors[i]])) pool = i;
        }
        if (pool is { } p && !selected.Contains(p)) selected.Add(p);

        if (logits is not null && pool is { } q && tensors[q] == logits && namedLogits is null) logits = null;
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

    /// <summary>The index of the last global pool that <paramref name="target"/> is computed from (or is), if any.</summary>
    private static int? GlobalPool(OnnxGraph graph, IReadOnlyList<string> tensors, IReadOnlyDictionary<string, long[]> shapes, string? target)
    {
        var feeding = target is null ? null : Ancestors(graph, target);
        for (var i = tensors.Count - 1; i >= 0; i--)
        {
            if (feeding is not null && !feeding.Contains(tensors[i])) continue;
            if (graph.ProducerOf(tensors[i]) is not { } node || !ReductionOps.Contains(node.OpType)) continue;
            if (IsVector(shapes[tensors[i]]) && shapes.TryGetValue(node.Input[0], out var input) && !IsVector(input) && input.Length >= 3)
                return i;
        }
        return null;
    }

    /// <summary><paramref name="tensor"/> and every tensor it is computed from.</summary>
    private static HashSet<string> Ancestors(OnnxGraph graph, string tensor)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal) { tensor };
        var pending = new Stack<string>([tensor]);
        while (pending.TryPop(out var current))
            if (graph.ProducerOf(current) is { } node)
                foreach (var input in node.Input)
                    if (input.Length > 0 && seen.Add(input)) pending.Push(input);
        return seen;
    }

    /// <summary>
    /// A reduction of a rank-5+ tensor (a group axis pooled away), or a Squeeze/Reshape/Flatten dropping the axis
    /// such a reduction kept. Whether the result is spatial is the caller's check.
    /// </summary>
    private static bool IsGroupPool(OnnxGraph graph, global::Onnx.NodeProto node, IReadOnlyDictionary<string, long[]> shapes)
    {
        if (node.OpType is "Squeeze" or "Reshape" or "Flatten")
            return graph.ProducerOf(node.Input[0]) is { } reduction && shapes.TryGetValue(node.Input[0], out var kept) && kept.Length >= 5
                   && IsGroupPool(graph, reduction, shapes);
        return ReductionOps.Contains(node.OpType) && node.Input.Count > 0
               && shapes.TryGetValue(node.Input[0], out var input) && input.Length >= 5;
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
