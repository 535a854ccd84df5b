using System.Globalization;
using EquivarianceLab.Tests.TestModels;

namespace EquivarianceLab.E2E.Infrastructure;

/// <summary>
/// A zoo folder for one test server: the built-in Fashion-MNIST probe set (copied from the repository) and tiny
/// control CNNs written as ONNX here (Conv-ReLU ×3, global pooling, linear head on 1×28×28), which measure in seconds.
/// </summary>
public sealed class TestZoo : IDisposable
{
    public string Folder { get; } = Repo.NewTempFolder("zoo");

    public TestZoo()
    {
        var dst = Directory.CreateDirectory(Path.Combine(Folder, "data", "fashion-mnist")).FullName;
        if (!File.Exists(Repo.FashionMnistTest)) throw new InvalidOperationException($"The built-in probe set {Repo.FashionMnistTest} is missing from the repository.");
        File.Copy(Repo.FashionMnistTest, Path.Combine(dst, Path.GetFileName(Repo.FashionMnistTest)));
    }

    /// <summary>Adds models/&lt;id&gt;/card.json and model.onnx; returns the ONNX bytes.</summary>
    public byte[] AddTinyCnn(string id, string name, double? accuracy, int seed, int channels = 4)
    {
        var onnx = TinyCnn(seed, channels);
        var dir = Directory.CreateDirectory(Path.Combine(Folder, id)).FullName;
        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), onnx);
        var acc = accuracy is { } a ? a.ToString(CultureInfo.InvariantCulture) : "null";
        File.WriteAllText(Path.Combine(dir, "card.json"), $$"""
            {"id":"{{id}}","displayName":"{{name}}","family":"Control","format":"onnx","file":"model.onnx","inputShape":[1,28,28],
             "preprocessing":{"channelOrder":"L","scale":0.00392156862745098,"mean":[0],"std":[1]},
             "accuracy":{{acc}},"accuracyDataset":"Fashion-MNIST test","provenance":"written by the e2e tests (seed {{seed}})"}
            """);
        return onnx;
    }

    /// <summary>Conv-ReLU ×3 (3×3, same padding), global average pooling and a linear head on [N, 1, 28, 28].</summary>
    public static byte[] TinyCnn(int seed, int channels = 4)
    {
        var b = new OnnxGraphBuilder();
        var random = new Random(seed);
        float[] W(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var c = channels;
        var x = b.Input("x", "N", 1, 28, 28);
        var r1 = b.Relu(b.Conv(x, W(c * 9), [c, 1, 3, 3], W(c), pads: [1], output: "conv1"), "relu1");
        var r2 = b.Relu(b.Conv(r1, W(c * c * 9), [c, c, 3, 3], W(c), pads: [1], output: "conv2"), "relu2");
        var r3 = b.Relu(b.Conv(r2, W(c * c * 9), [c, c, 3, 3], W(c), pads: [1], output: "conv3"), "relu3");
        var pool = b.GlobalAveragePool(r3, "pool");
        var logits = b.Gemm(b.Flatten(pool, output: "flat"), W(10 * c), 10, c, W(10), "logits");
        b.Output(logits, "N", 10);
        return b.ToBytes();
    }

    public void Dispose() => Repo.TryDelete(Folder);
}
