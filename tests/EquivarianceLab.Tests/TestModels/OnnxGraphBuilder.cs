using Google.Protobuf;
using Onnx;

namespace EquivarianceLab.Tests.TestModels;

/// <summary>A dimension of a graph input or output: a fixed size (<c>3</c>) or a symbolic name (<c>"N"</c>).</summary>
public readonly record struct OnnxDim(long? Value, string? Param)
{
    public static implicit operator OnnxDim(int value) => new(value, null);
    public static implicit operator OnnxDim(long value) => new(value, null);
    public static implicit operator OnnxDim(string param) => new(null, param);
}

/// <summary>
/// Writes small ONNX graphs in code for tests. Op methods take input tensor names and return the output tensor
/// name (pass <c>output:</c> to choose it; otherwise it is <c>op_k</c>, e.g. <c>relu_1</c>), so residual graphs
/// read like the forward pass:
/// <code>
/// var b = new OnnxGraphBuilder(opset: 13);
/// var x = b.Input("x", "N", 3, 8, 8);
/// var y = b.Relu(b.Conv(x, w, [4, 3, 3, 3], pads: [1]));
/// b.Output(b.Add(y, x));
/// b.Save(path);
/// </code>
/// </summary>
public sealed class OnnxGraphBuilder
{
    private readonly GraphProto _graph = new() { Name = "test" };
    private readonly Dictionary<string, int> _counters = new(StringComparer.Ordinal);

    public OnnxGraphBuilder(int opset = 13) => Opset = opset;

    /// <summary>The default-domain opset the graph declares; op methods pick the matching encoding.</summary>
    public int Opset { get; set; }

    // ---- graph inputs, outputs and constants ----

    public string Input(string name, params OnnxDim[] dims) => Input(name, TensorProto.Types.DataType.Float, dims);

    public string Input(string name, TensorProto.Types.DataType type, params OnnxDim[] dims)
    {
        _graph.Input.Add(ValueInfo(name, type, dims));
        return name;
    }

    /// <summary>Marks a tensor as a graph output; with no dims its shape is left unspecified.</summary>
    public OnnxGraphBuilder Output(string name, params OnnxDim[] dims)
    {
        _graph.Output.Add(ValueInfo(name, TensorProto.Types.DataType.Float, dims));
        return this;
    }

    /// <summary>Adds a value_info shape annotation for an intermediate tensor (e.g. a stale batch-1 shape).</summary>
    public OnnxGraphBuilder ValueInfo(string name, params OnnxDim[] dims)
    {
        _graph.ValueInfo.Add(ValueInfo(name, TensorProto.Types.DataType.Float, dims));
        return this;
    }

    public string Initializer(string name, float[] data, params long[] dims)
    {
        CheckCount(name, data.Length, dims);
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(data);
        _graph.Initializer.Add(t);
        return name;
    }

    public string InitializerInt64(string name, long[] data, params long[] dims)
    {
        CheckCount(name, data.Length, dims);
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.AddRange(dims);
        t.Int64Data.AddRange(data);
        _graph.Initializer.Add(t);
        return name;
    }

    /// <summary>A float <c>Constant</c> node (a computed-looking tensor that does not depend on the input).</summary>
    public string Constant(float[] data, long[] dims, string? output = null)
    {
        CheckCount("constant", data.Length, dims);
        var t = new TensorProto { DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(data);
        return Node("Constant", [], output, new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = t });
    }

    // ---- ops ----

    /// <summary>
    /// Conv with weight shape <c>[out, in/group, kH, kW]</c>. <paramref name="pads"/> is ONNX order
    /// <c>[top, left, bottom, right]</c>, or one value for all four.
    /// </summary>
    public string Conv(string input, float[] weight, long[] weightShape, float[]? bias = null, int[]? pads = null,
        int[]? strides = null, int group = 1, int[]? dilations = null, string? output = null)
    {
        output ??= Next("conv");
        var inputs = new List<string> { input, Initializer(output + ".weight", weight, weightShape) };
        if (bias is not null) inputs.Add(Initializer(output + ".bias", bias, weightShape[0]));
        return Node("Conv", inputs, output,
            Ints("kernel_shape", weightShape[2], weightShape[3]),
            Ints("pads", Pads4(pads)),
            Ints("strides", strides is null ? [1, 1] : Pair(strides)),
            Ints("dilations", dilations is null ? [1, 1] : Pair(dilations)),
            Int("group", group));
    }

    public string Relu(string input, string? output = null) => Node("Relu", [input], output ?? Next("relu"));
    public string Sigmoid(string input, string? output = null) => Node("Sigmoid", [input], output ?? Next("sigmoid"));
    public string Identity(string input, string? output = null) => Node("Identity", [input], output ?? Next("identity"));
    public string Add(string a, string b, string? output = null) => Node("Add", [a, b], output ?? Next("add"));
    public string Mul(string a, string b, string? output = null) => Node("Mul", [a, b], output ?? Next("mul"));
    public string MatMul(string a, string b, string? output = null) => Node("MatMul", [a, b], output ?? Next("matmul"));
    public string GlobalAveragePool(string input, string? output = null) => Node("GlobalAveragePool", [input], output ?? Next("gap"));

    public string MaxPool(string input, int kernel, int stride, int[]? pads = null, string? output = null) =>
        Node("MaxPool", [input], output ?? Next("maxpool"),
            Ints("kernel_shape", kernel, kernel), Ints("strides", stride, stride), Ints("pads", Pads4(pads)));

    public string Flatten(string input, int axis = 1, string? output = null) =>
        Node("Flatten", [input], output ?? Next("flatten"), Int("axis", axis));

    /// <summary>Gemm <c>y = x·Wᵀ + b</c> with <paramref name="weight"/> stored as <c>[out, in]</c> (PyTorch Linear layout).</summary>
    public string Gemm(string input, float[] weight, int outFeatures, int inFeatures, float[]? bias = null, string? output = null)
    {
        output ??= Next("gemm");
        var inputs = new List<string> { input, Initializer(output + ".weight", weight, outFeatures, inFeatures) };
        if (bias is not null) inputs.Add(Initializer(output + ".bias", bias, outFeatures));
        return Node("Gemm", inputs, output, Int("transB", 1));
    }

    public string Softmax(string input, int axis = -1, string? output = null)
    {
        if (axis < 0 && Opset < 13) throw new ArgumentException("Softmax before opset 13 needs a non-negative axis (it flattens from there).");
        return Node("Softmax", [input], output ?? Next("softmax"), Int("axis", axis));
    }

    /// <summary>Reshape to a constant shape (ONNX semantics: 0 copies the input dim, -1 is inferred).</summary>
    public string Reshape(string input, long[] shape, string? output = null)
    {
        output ??= Next("reshape");
        if (Opset < 5) throw new ArgumentException("Reshape with a shape input needs opset 5.");
        return Node("Reshape", [input, InitializerInt64(output + ".shape", shape, shape.Length)], output);
    }

    public string Transpose(string input, int[] perm, string? output = null) =>
        Node("Transpose", [input], output ?? Next("transpose"), Ints("perm", perm.Select(p => (long)p).ToArray()));

    /// <summary>Gather with constant indices; a single index with <paramref name="scalarIndex"/> drops the axis (class token).</summary>
    public string Gather(string input, long[] indices, int axis, bool scalarIndex = false, string? output = null)
    {
        output ??= Next("gather");
        if (scalarIndex && indices.Length != 1) throw new ArgumentException("A scalar index is one index.");
        var idx = scalarIndex ? InitializerInt64(output + ".indices", indices) : InitializerInt64(output + ".indices", indices, indices.Length);
        return Node("Gather", [input, idx], output, Int("axis", axis));
    }

    public string Concat(int axis, IReadOnlyList<string> inputs, string? output = null) =>
        Node("Concat", inputs, output ?? Next("concat"), Int("axis", axis));

    public string ReduceMean(string input, int[] axes, bool keepDims = true, string? output = null)
    {
        output ??= Next("reducemean");
        var axesLong = axes.Select(a => (long)a).ToArray();
        return Opset >= 18
            ? Node("ReduceMean", [input, InitializerInt64(output + ".axes", axesLong, axesLong.Length)], output, Int("keepdims", keepDims ? 1 : 0))
            : Node("ReduceMean", [input], output, Ints("axes", axesLong), Int("keepdims", keepDims ? 1 : 0));
    }

    /// <summary>LayerNormalization over the last axis (opset 17 and later).</summary>
    public string LayerNormalization(string input, float[] scale, float[] bias, float epsilon = 1e-5f, string? output = null)
    {
        if (Opset < 17) throw new ArgumentException("LayerNormalization needs opset 17.");
        output ??= Next("layernorm");
        return Node("LayerNormalization",
            [input, Initializer(output + ".scale", scale, scale.Length), Initializer(output + ".bias", bias, bias.Length)],
            output, Int("axis", -1), Float("epsilon", epsilon));
    }

    /// <summary>
    /// Pad of a 4-d tensor by <c>[top, left, bottom, right]</c> (spatial only). Modes: constant and reflect
    /// (every opset here), edge (opset 11), wrap — circular padding — from opset 19.
    /// </summary>
    public string Pad(string input, int[] pads, string mode = "constant", float value = 0, string? output = null)
    {
        output ??= Next("pad");
        if (mode == "wrap" && Opset < 19) throw new ArgumentException("Pad mode 'wrap' needs opset 19.");
        var p = Pads4(pads);
        long[] all = [0, 0, p[0], p[1], 0, 0, p[2], p[3]]; // ONNX: all begins, then all ends, over N, C, H, W
        var modeAttr = new AttributeProto { Name = "mode", Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(mode) };
        if (Opset < 11)
            return Node("Pad", [input], output, modeAttr, Ints("pads", all), Float("value", value));
        var inputs = new List<string> { input, InitializerInt64(output + ".pads", all, all.Length) };
        if (mode == "constant") inputs.Add(Initializer(output + ".value", [value]));
        return Node("Pad", inputs, output, modeAttr);
    }

    /// <summary>Any other node; returns its (first) output.</summary>
    public string Node(string opType, IReadOnlyList<string> inputs, string? output, params AttributeProto[] attributes)
    {
        output ??= Next(opType.ToLowerInvariant());
        var node = new NodeProto { OpType = opType, Name = output + "_node" };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return output;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    // ---- output ----

    public ModelProto Build()
    {
        var model = new ModelProto { IrVersion = IrVersionFor(Opset), ProducerName = "EquivarianceLab.Tests", Graph = _graph.Clone() };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    public byte[] ToBytes() => Build().ToByteArray();

    public string Save(string path)
    {
        File.WriteAllBytes(path, ToBytes());
        return path;
    }

    // The oldest IR version that allows the opset, so old-opset graphs look like old exporters' files.
    private static long IrVersionFor(int opset) => opset switch
    {
        <= 8 => 3,
        9 => 4,
        10 => 5,
        11 => 6,
        <= 14 => 7,
        <= 18 => 8,
        <= 20 => 9,
        _ => 10,
    };

    private string Next(string prefix)
    {
        var k = _counters.GetValueOrDefault(prefix) + 1;
        _counters[prefix] = k;
        return $"{prefix}_{k}";
    }

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, OnnxDim[] dims)
    {
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)type };
        if (dims.Length > 0)
        {
            tensor.Shape = new TensorShapeProto();
            foreach (var d in dims)
                tensor.Shape.Dim.Add(d.Param is not null
                    ? new TensorShapeProto.Types.Dimension { DimParam = d.Param }
                    : new TensorShapeProto.Types.Dimension { DimValue = d.Value ?? throw new ArgumentException("A dim needs a value or a name.") });
        }
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }

    private static long[] Pads4(int[]? pads) => pads switch
    {
        null => [0, 0, 0, 0],
        [var p] => [p, p, p, p],
        [var h, var w] => [h, w, h, w],
        [_, _, _, _] => pads.Select(p => (long)p).ToArray(),
        _ => throw new ArgumentException("pads: give 1, 2 or 4 values."),
    };

    private static long[] Pair(int[] v) => v.Length == 1 ? [v[0], v[0]] : [v[0], v[1]];

    private static void CheckCount(string name, int count, long[] dims)
    {
        var expected = dims.Aggregate(1L, (a, b) => a * b);
        if (count != expected) throw new ArgumentException($"{name}: {count} values for shape [{string.Join(",", dims)}].");
    }
}
