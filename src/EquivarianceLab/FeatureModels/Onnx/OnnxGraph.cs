using Google.Protobuf;
using Onnx;

namespace EquivarianceLab.FeatureModels.Onnx;

/// <summary>
/// A parsed ONNX model and what the feature model needs to know about its structure: the image input, the
/// tensors in node order, which of them are computed from the input, and graph copies with chosen outputs.
/// </summary>
internal sealed class OnnxGraph
{
    private const int FloatType = (int)TensorProto.Types.DataType.Float;
    private readonly ModelProto _model;
    private readonly Dictionary<string, NodeProto> _producer = new(StringComparer.Ordinal);
    private readonly HashSet<string> _computed = new(StringComparer.Ordinal);

    private readonly FileStamp? _weightsFile;

    private OnnxGraph(ModelProto model, string name, string folder, int weightsInFile, FileStamp? weightsFile)
    {
        _model = model;
        WeightsInFile = weightsInFile;
        _weightsFile = weightsFile;
        Name = name;
        Folder = folder;
        var graph = model.Graph;
        var initializers = graph.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        // Before IR 4 initializers were also listed as inputs; the image is the input that is not one. From IR 4
        // on, ONNX Runtime treats such initializers as overridable and skips constant folding and fusions on them.
        var inputs = graph.Input.Where(i => !initializers.Contains(i.Name)).ToList();
        if (model.IrVersion >= 4 && inputs.Count < graph.Input.Count)
        {
            graph.Input.Clear();
            graph.Input.AddRange(inputs);
        }
        if (inputs.Count == 0) throw new EquivarianceLabException($"{name}: the ONNX graph has no inputs.");
        if (inputs.Count > 1)
            throw new EquivarianceLabException(
                $"{name}: the ONNX graph has {inputs.Count} inputs ({string.Join(", ", inputs.Take(5).Select(i => Messages.Untrusted(i.Name)))}{(inputs.Count > 5 ? ", …" : "")}); EquivarianceLab needs a single image input [N,C,H,W].");
        var input = inputs[0];
        InputName = input.Name;
        InputDims = ReadInputDims(input, name);

        var order = new List<string>();
        _computed.Add(InputName);
        foreach (var node in graph.Node)
        {
            // A tensor is computed when it depends on the image's values; constants, weights and tensors derived
            // only from the image's shape (e.g. a position embedding expanded to the batch) are not.
            var computed = node.OpType is not ("Shape" or "Size") && node.Input.Any(_computed.Contains);
            foreach (var output in node.Output.Where(o => o.Length > 0))
            {
                _producer.TryAdd(output, node);
                if (!computed) continue;
                _computed.Add(output);
                order.Add(output);
            }
        }
        ComputedTensors = order;
        FirstOutput = graph.Output.Count > 0 ? graph.Output[0].Name : null;
    }

    public string Name { get; }

    /// <summary>The model file's folder, where external tensor data lives.</summary>
    public string Folder { get; }

    public string InputName { get; }

    /// <summary>The input's four dims [N, C, H, W]; null where the dim is symbolic or unknown.</summary>
    public IReadOnlyList<long?> InputDims { get; }

    /// <summary>Node outputs that depend on the input, in node (forward) order.</summary>
    public IReadOnlyList<string> ComputedTensors { get; }

    public string? FirstOutput { get; }

    /// <summary>How many initializers sessions read from the model file (<see cref="FileWeights"/>).</summary>
    public int WeightsInFile { get; }

    public bool HasFixedBatch => InputDims[0] is not null;

    public NodeProto? ProducerOf(string tensor) => _producer.GetValueOrDefault(tensor);

    public bool IsComputed(string tensor) => _computed.Contains(tensor);

    public bool IsGraphTensor(string tensor) => _producer.ContainsKey(tensor) || tensor == InputName;

    /// <summary>
    /// Parses the model and checks it against <paramref name="limits"/> (<see cref="OnnxGraphChecks"/>, and the input
    /// size it declares) before anything else sees it.
    /// </summary>
    public static OnnxGraph Read(string path, string name, OnnxLimits limits)
    {
        if (!File.Exists(path)) throw new EquivarianceLabException($"Model file {Path.GetFileName(path)} not found.");
        ModelProto model;
        List<FileWeights.Place> places;
        long fileLength;
        FileStamp stamp;
        try
        {
            var info = new FileInfo(path);
            fileLength = info.Length;
            stamp = new FileStamp(path, info.Length, info.LastWriteTimeUtc);
            // Protobuf cannot hold a message over 2 GiB; large weights belong in external data.
            if (fileLength > int.MaxValue)
                throw new EquivarianceLabException($"{name} is {fileLength} bytes; an ONNX file over 2 GiB must keep its weights as external data.");
            model = FileWeights.Read(path, out places) ?? ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        }
        catch (InvalidProtocolBufferException e)
        {
            throw NotOnnx(name, e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EquivarianceLabException($"Model file {Path.GetFileName(path)} could not be read: {Messages.FileProblem(e)}.", e);
        }
        // Protobuf skips unknown fields, so a text file can parse "successfully" into an empty model.
        if (model.Graph is null || model.Graph.Node.Count == 0 || model.IrVersion <= 0)
            throw new EquivarianceLabException($"{name} is not an ONNX model (no graph found in it).");
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        OnnxGraphChecks.Check(model, name, folder, fileLength, limits, places);
        FileWeights.PointAtFile(model.Graph, places, Path.GetFileName(path));
        var graph = new OnnxGraph(model, name, folder, places.Count, places.Count > 0 ? stamp : null);
        graph.CheckDeclaredInput(limits);
        return graph;
    }

    /// <summary>The declared C×H×W (free dims counted as 1 until the probe's size is known) must be within the limit.</summary>
    private void CheckDeclaredInput(OnnxLimits limits)
    {
        long elements = OnnxLimits.ElementsOf(InputDims.Skip(1).Select(d => d ?? 1));
        if (elements > limits.MaxInputElements)
        {
            var shape = "[" + string.Join(",", InputDims.Select(d => d?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?")) + "]";
            throw new EquivarianceLabException(
                $"{Name}: input '{Messages.Untrusted(InputName)}' declares {shape}, {elements} values per image (C×H×W); the limit is {limits.DescribeMaxInputElements()}.");
        }
    }

    public static EquivarianceLabException NotOnnx(string name, InvalidProtocolBufferException e) =>
        new($"{name} is not an ONNX model ({(e.Message.Contains("ended unexpectedly", StringComparison.Ordinal)
            ? "it ends in the middle of the model: is the file truncated?"
            : "it does not parse as ONNX protobuf")}).", e);

    /// <summary>
    /// The model serialised with exactly <paramref name="outputs"/> as graph outputs (so ONNX Runtime computes only
    /// what they need). Untyped outputs let ONNX Runtime infer their types, which the probe reads back.
    /// With <paramref name="freeBatch"/> the input's batch dim becomes symbolic and value_info (shapes inferred
    /// for the fixed batch) is dropped.
    /// </summary>
    public byte[] Serialize(IEnumerable<string> outputs, bool freeBatch, bool typedFloat)
    {
        // The weights left in the file are read by ONNX Runtime when the session is made: they must still be the ones read.
        if (_weightsFile is { } file && !file.Unchanged())
            throw new EquivarianceLabException($"{Name} changed on disk while it was being loaded; load it again.");
        // Swap the graph's fields instead of cloning: initializers can be hundreds of MB.
        var graph = _model.Graph;
        var savedOutputs = graph.Output.ToList();
        var savedValueInfo = graph.ValueInfo.ToList();
        var input = graph.Input.First(i => i.Name == InputName);
        var savedInput = input.Type;
        try
        {
            graph.Output.Clear();
            foreach (var name in outputs)
            {
                var info = new ValueInfoProto { Name = name };
                if (typedFloat) info.Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = FloatType } };
                graph.Output.Add(info);
            }
            if (freeBatch)
            {
                graph.ValueInfo.Clear();
                var type = savedInput.Clone();
                type.TensorType.Shape.Dim[0] = new TensorShapeProto.Types.Dimension { DimParam = "batch" };
                input.Type = type;
            }
            return _model.ToByteArray();
        }
        finally
        {
            graph.Output.Clear();
            graph.Output.AddRange(savedOutputs);
            graph.ValueInfo.Clear();
            graph.ValueInfo.AddRange(savedValueInfo);
            input.Type = savedInput;
        }
    }

    private static long?[] ReadInputDims(ValueInfoProto input, string name)
    {
        var tensor = input.Type?.TensorType;
        if (tensor is null)
            throw new EquivarianceLabException($"{name}: input '{Messages.Untrusted(input.Name)}' is not a tensor; EquivarianceLab needs an image input [N,C,H,W].");
        var dims = tensor.Shape?.Dim;
        if (dims is not null && dims.Count != 4)
        {
            var shape = string.Join(",", dims.Take(8).Select(d => d.HasDimValue ? d.DimValue.ToString() : d.DimParam is { Length: > 0 } p ? Messages.Untrusted(p, 20) : "?"))
                        + (dims.Count > 8 ? ",…" : "");
            throw new EquivarianceLabException($"{name}: input '{Messages.Untrusted(input.Name)}' has shape [{shape}]; EquivarianceLab needs an image input [N,C,H,W].");
        }
        if (tensor.ElemType != FloatType)
        {
            var type = Enum.IsDefined(typeof(TensorProto.Types.DataType), tensor.ElemType)
                ? ((TensorProto.Types.DataType)tensor.ElemType).ToString().ToLowerInvariant()
                : $"of element type {tensor.ElemType}";
            throw new EquivarianceLabException($"{name}: input '{Messages.Untrusted(input.Name)}' is {type}; EquivarianceLab needs a float32 image input [N,C,H,W].");
        }
        // No shape at all: every dim is free.
        return dims is null ? [null, null, null, null] : dims.Select(d => d.HasDimValue && d.DimValue > 0 ? d.DimValue : (long?)null).ToArray();
    }

    /// <summary>A file's length and last write time when it was read.</summary>
    private sealed record FileStamp(string Path, long Length, DateTime LastWriteUtc)
    {
        public bool Unchanged()
        {
            var info = new FileInfo(Path);
            return info.Exists && info.Length == Length && info.LastWriteTimeUtc == LastWriteUtc;
        }
    }
}
