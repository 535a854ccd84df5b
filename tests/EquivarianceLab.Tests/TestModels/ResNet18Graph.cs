using EquivarianceLab.Architectures;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.TestModels;

/// <summary>
/// Writes a TorchSharp torchvision ResNet-18 (<see cref="TorchVisionResNet"/>, eval mode) as an ONNX graph with the
/// same weights: each batch norm folded into the convolution before it (w·γ/√(σ²+ε), β − μ·γ/√(σ²+ε)), as PyTorch's
/// exporter does. The tensors the benchmark measures get readable names: <c>relu</c> (after conv1), <c>stem</c> (the stem's output, after the max pool),
/// <c>layer1</c> … <c>layer4</c> (each stage's output), <c>pool</c> and <c>logits</c>; the graph's input has a free batch.
/// </summary>
public static class ResNet18Graph
{
    public static readonly IReadOnlyList<string> MeasuredTensors = ["stem", "layer1", "layer2", "layer3", "layer4", "pool", "logits"];

    /// <summary>The ONNX tensor that equals each of <see cref="TorchVisionResNet"/>'s hook points.</summary>
    public static string OnnxNameOf(string hook) => hook switch
    {
        "layer1.1" => "layer1",
        "layer2.1" => "layer2",
        "layer3.1" => "layer3",
        "layer4.1" => "layer4",
        "pool" or "logits" => hook,
        _ => hook.Replace('.', '_'),
    };

    public static byte[] From(TorchVisionResNet model, long side, int classes = 1000)
    {
        var weights = model.state_dict().ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
        var b = new OnnxGraphBuilder(opset: 13);
        var x = b.Input("input", "N", 3, side, side);
        x = b.Relu(ConvBn(b, weights, x, "conv1", "bn1", stride: 2, pad: 3), output: "relu");
        x = b.MaxPool(x, kernel: 3, stride: 2, pads: [1], output: "stem");
        for (int stage = 1; stage <= 4; stage++)
        {
            for (int block = 0; block < 2; block++)
            {
                var p = $"layer{stage}.{block}";
                int stride = stage > 1 && block == 0 ? 2 : 1;
                var y = b.Relu(ConvBn(b, weights, x, $"{p}.conv1", $"{p}.bn1", stride, pad: 1));
                y = ConvBn(b, weights, y, $"{p}.conv2", $"{p}.bn2", stride: 1, pad: 1);
                var shortcut = weights.ContainsKey($"{p}.downsample.0.weight")
                    ? ConvBn(b, weights, x, $"{p}.downsample.0", $"{p}.downsample.1", stride, pad: 0)
                    : x;
                x = b.Relu(b.Add(y, shortcut), output: block == 1 ? $"layer{stage}" : $"layer{stage}_{block}");
            }
        }
        var pooled = b.Flatten(b.GlobalAveragePool(x), output: "pool");
        var fc = weights["fc.weight"];
        b.Gemm(pooled, Floats(fc), classes, (int)fc.shape[1], Floats(weights["fc.bias"]), output: "logits");
        b.Output("logits");
        return b.ToBytes();
    }

    private static string ConvBn(OnnxGraphBuilder b, Dictionary<string, Tensor> w, string input, string conv, string bn, int stride, int pad)
    {
        using var scope = NewDisposeScope();
        var weight = w[$"{conv}.weight"];
        var scale = w[$"{bn}.weight"].div(w[$"{bn}.running_var"].Plus(1e-5).sqrt());
        var folded = weight.mul(scale.view(-1, 1, 1, 1));
        var bias = w[$"{bn}.bias"].sub(w[$"{bn}.running_mean"].mul(scale));
        return b.Conv(input, Floats(folded), folded.shape, Floats(bias), pads: [pad], strides: [stride]);
    }

    private static float[] Floats(Tensor t) => t.detach().contiguous().to_type(ScalarType.Float32).data<float>().ToArray();
}
