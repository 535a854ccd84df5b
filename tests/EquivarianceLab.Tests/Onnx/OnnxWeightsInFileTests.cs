using EquivarianceLab.FeatureModels.Onnx;
using EquivarianceLab.Tests.TestModels;
using Google.Protobuf;
using Onnx;
using TorchSharp;

namespace EquivarianceLab.Tests.Onnx;

/// <summary>
/// Large initializers reach ONNX Runtime as external data pointing into the model file itself, not inside each
/// session's serialised graph. Each layout an exporter writes must give the features of a convolution computed by hand;
/// layouts whose data is not one contiguous little-endian block stay inline and must give the same.
/// </summary>
public class OnnxWeightsInFileTests
{
    private const int Out = 16, In = 8, Side = 6;

    public enum Layout
    {
        RawData,
        PackedFloats,
        UnpackedFloats,
        FloatsInTwoPieces,
        GraphInTwoPieces,
    }

    [Theory]
    [InlineData(Layout.RawData, 1)]
    [InlineData(Layout.PackedFloats, 1)]
    [InlineData(Layout.UnpackedFloats, 0)]
    [InlineData(Layout.FloatsInTwoPieces, 0)]
    [InlineData(Layout.GraphInTwoPieces, 0)]
    public void Each_weight_layout_gives_the_hand_computed_convolution(Layout layout, int inFile)
    {
        // A 3×3 convolution, 8 → 16 channels: its weight is 4,608 bytes, over the 4 KiB from which weights stay in the file.
        var graph = ConvModel(out var weight, out var bias);
        using var dir = new OnnxTempFolder();
        var path = dir.File("model.onnx");
        File.WriteAllBytes(path, Encode(graph, layout));

        using var model = OnnxFeatureModel.Load(path, ["conv"]);
        Assert.Equal(inFile, model.WeightsInFile);
        using var images = OnnxTestGraphs.Images(2, In, Side, Side);
        var expected = Convolve(OnnxTestGraphs.Values(images), weight, bias, 2);
        for (int run = 0; run < 2; run++)
        {
            using var features = new Features(model.Forward(images));
            var actual = OnnxTestGraphs.Values(features[0]);
            Assert.Equal(expected.Length, actual.Length);
            for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-4, $"value {i}: {actual[i]} against {expected[i]}");
        }
    }

    [Theory]
    [InlineData(Layout.RawData)]
    [InlineData(Layout.PackedFloats)]
    public void A_large_weight_declaring_more_than_its_data_is_refused(Layout layout)
    {
        // The data stays in the file unread; the check counts the bytes it spans there.
        var model = ConvModel(out _, out _);
        var tensor = model.Graph.Initializer.Single(t => t.Name == "conv.weight");
        tensor.Dims[3] = 30;
        using var dir = new OnnxTempFolder();
        var path = dir.File("model.onnx");
        File.WriteAllBytes(path, Encode(model, layout));

        var e = Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(path, ["conv"]));
        Assert.Equal("model.onnx: initializer 'conv.weight' declares 46080 bytes ([16,8,3,30]) but the file holds at most 4608 for it; " +
                     "refusing a tensor larger than its data.", e.Message);
    }

    [Fact]
    public void A_file_cut_inside_a_large_weight_is_a_clear_error()
    {
        var bytes = ConvModel(out var weight, out _).ToByteArray();
        // Cut half-way through the weight's floats.
        var first = BitConverter.GetBytes(weight[0]);
        int start = bytes.AsSpan().IndexOf(first);
        Assert.True(start > 0);
        using var dir = new OnnxTempFolder();
        var path = dir.File("cut.onnx");
        File.WriteAllBytes(path, bytes[..(start + weight.Length * 2)]);

        var e = Assert.Throws<EquivarianceLabException>(() => OnnxFeatureModel.Load(path, ["conv"]));
        Assert.Equal("cut.onnx is not an ONNX model (it ends in the middle of the model: is the file truncated?).", e.Message);
    }

    private static ModelProto ConvModel(out float[] weight, out float[] bias)
    {
        weight = Enumerable.Range(0, Out * In * 9).Select(i => (float)Math.Sin(0.37 * i) * 0.5f).ToArray();
        bias = Enumerable.Range(0, Out).Select(i => 0.1f * i - 0.7f).ToArray();
        var b = new OnnxGraphBuilder();
        var x = b.Input("x", "N", In, Side, Side);
        b.Output(b.Conv(x, weight, [Out, In, 3, 3], bias, pads: [1], output: "conv"));
        return b.Build();
    }

    /// <summary>The model's bytes with the convolution weight in <paramref name="layout"/>.</summary>
    private static byte[] Encode(ModelProto model, Layout layout)
    {
        var tensor = model.Graph.Initializer.Single(t => t.Name == "conv.weight");
        switch (layout)
        {
            case Layout.PackedFloats:
                return model.ToByteArray(); // Google.Protobuf writes repeated floats packed
            case Layout.RawData:
                var raw = new byte[tensor.FloatData.Count * 4];
                for (int i = 0; i < tensor.FloatData.Count; i++) BitConverter.TryWriteBytes(raw.AsSpan(4 * i), tensor.FloatData[i]);
                tensor.FloatData.Clear();
                tensor.RawData = ByteString.CopyFrom(raw);
                return model.ToByteArray();
            case Layout.GraphInTwoPieces:
            {
                // Protobuf merges a message field given twice: the second graph piece adds the weight to the first's initializers.
                model.Graph.Initializer.Remove(tensor);
                var rest = new GraphProto();
                rest.Initializer.Add(tensor);
                return [.. model.ToByteArray(), .. Field(7, rest.ToByteArray())];
            }
            default:
            {
                // Hand-written tensor bytes: the floats one field each (unpacked), or packed in two fields that protobuf joins.
                var values = tensor.FloatData.ToArray();
                var head = new TensorProto { Name = tensor.Name, DataType = tensor.DataType };
                head.Dims.AddRange(tensor.Dims);
                var bytes = new MemoryStream();
                bytes.Write(head.ToByteArray());
                var output = new CodedOutputStream(bytes, leaveOpen: true);
                if (layout == Layout.UnpackedFloats)
                    foreach (var v in values)
                    {
                        output.WriteTag(4, WireFormat.WireType.Fixed32);
                        output.WriteFloat(v);
                    }
                else
                    foreach (var piece in new[] { values[..100], values[100..] })
                    {
                        output.WriteTag(4, WireFormat.WireType.LengthDelimited);
                        output.WriteLength(piece.Length * 4);
                        foreach (var v in piece) output.WriteFloat(v);
                    }
                output.Flush();
                model.Graph.Initializer.Remove(tensor);
                var graph = model.Graph;
                model.Graph = null;
                return [.. model.ToByteArray(), .. Field(7, [.. graph.ToByteArray(), .. Field(5, bytes.ToArray())])];
            }
        }
    }

    private static byte[] Field(int number, byte[] payload)
    {
        var bytes = new MemoryStream();
        var output = new CodedOutputStream(bytes, leaveOpen: true);
        output.WriteTag(number, WireFormat.WireType.LengthDelimited);
        output.WriteLength(payload.Length);
        output.Flush();
        bytes.Write(payload);
        return bytes.ToArray();
    }

    /// <summary>A 3×3 convolution with padding 1, by its definition.</summary>
    private static float[] Convolve(float[] images, float[] weight, float[] bias, int n)
    {
        var result = new float[n * Out * Side * Side];
        for (int b = 0; b < n; b++)
        for (int o = 0; o < Out; o++)
        for (int i = 0; i < Side; i++)
        for (int j = 0; j < Side; j++)
        {
            double sum = bias[o];
            for (int c = 0; c < In; c++)
            for (int di = 0; di < 3; di++)
            for (int dj = 0; dj < 3; dj++)
            {
                int y = i + di - 1, xx = j + dj - 1;
                if (y < 0 || y >= Side || xx < 0 || xx >= Side) continue;
                sum += weight[((o * In + c) * 3 + di) * 3 + dj] * images[((b * In + c) * Side + y) * Side + xx];
            }
            result[((b * Out + o) * Side + i) * Side + j] = (float)sum;
        }
        return result;
    }
}
