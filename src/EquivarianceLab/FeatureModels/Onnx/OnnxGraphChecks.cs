using Onnx;

namespace EquivarianceLab.FeatureModels.Onnx;

/// <summary>
/// What a parsed ONNX model must satisfy before ONNX Runtime may see it (<see cref="OnnxLimits"/>): a bounded number
/// of nodes, no control flow, and no tensor that declares more data than the file holds. Everything here reads the
/// protobuf only; nothing is allocated in proportion to what the file claims.
/// </summary>
internal static class OnnxGraphChecks
{
    /// <summary>
    /// Loops and branches: their trip counts and taken branches depend on values, so neither the time nor the
    /// memory of a forward pass can be judged from the graph, and layer selection assumes a straight-line graph.
    /// </summary>
    private static readonly HashSet<string> ControlFlowOps = new(StringComparer.Ordinal) { "Loop", "Scan", "If" };

    /// <param name="inFile">Initializers whose data was left in the file (<see cref="FileWeights"/>): they hold those bytes.</param>
    public static void Check(ModelProto model, string name, string folder, long fileLength, OnnxLimits limits,
        IReadOnlyList<FileWeights.Place> inFile)
    {
        var graph = model.Graph;
        long nodes = graph.Node.Count + model.Functions.Sum(f => (long)f.Node.Count);
        if (nodes > limits.MaxNodes)
            throw new EquivarianceLabException($"{name} has {nodes} nodes; the limit is {limits.MaxNodes}.");

        var tensors = new OnnxTensorData(name, folder, fileLength, limits);
        var held = new long[graph.Initializer.Count];
        foreach (var place in inFile) held[place.Index] = place.Length;
        for (int i = 0; i < graph.Initializer.Count; i++) tensors.Check(graph.Initializer[i], "initializer", held[i]);
        foreach (var sparse in graph.SparseInitializer) tensors.CheckSparse(sparse, "sparse initializer");
        for (int i = 0; i < graph.Node.Count; i++) CheckNode(graph.Node[i], i, name, tensors);
        // Local functions are called like ops; their bodies run too.
        foreach (var function in model.Functions)
            for (int i = 0; i < function.Node.Count; i++) CheckNode(function.Node[i], i, name, tensors);
    }

    private static void CheckNode(NodeProto node, int index, string name, OnnxTensorData tensors)
    {
        // A subgraph attribute is control flow whatever the op is called (SequenceMap, com.microsoft's BeamSearch, …).
        bool subgraph = node.Attribute.Any(a => a.G is not null || a.Graphs.Count > 0 ||
                                                a.Type is AttributeProto.Types.AttributeType.Graph or AttributeProto.Types.AttributeType.Graphs);
        if (ControlFlowOps.Contains(node.OpType) || subgraph)
            throw new EquivarianceLabException(
                $"{name} uses the control-flow op {Messages.Untrusted(node.OpType, 40)} ({Describe(node, index)}); " +
                "EquivarianceLab runs only graphs without control flow (Loop, Scan, If or any op with a subgraph).");
        foreach (var attribute in node.Attribute)
        {
            var what = $"attribute '{Messages.Untrusted(attribute.Name, 40)}' of {Describe(node, index)}, tensor";
            if (attribute.T is not null) tensors.Check(attribute.T, what);
            foreach (var t in attribute.Tensors) tensors.Check(t, what);
            if (attribute.SparseTensor is not null) tensors.CheckSparse(attribute.SparseTensor, what);
            foreach (var s in attribute.SparseTensors) tensors.CheckSparse(s, what);
        }
    }

    private static string Describe(NodeProto node, int index) =>
        node.Name.Length > 0 ? $"node '{Messages.Untrusted(node.Name)}'" : $"unnamed node {index}";
}
