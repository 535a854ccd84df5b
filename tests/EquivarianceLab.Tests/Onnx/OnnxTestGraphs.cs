using EquivarianceLab.Tests.TestModels;
using TorchSharp;

namespace EquivarianceLab.Tests.Onnx;

/// <summary>Small graphs for the ONNX feature model tests, and a temporary folder to save them in.</summary>
internal static class OnnxTestGraphs
{
    /// <summary>Default layers of <see cref="ResidualCnn"/>, in forward order.</summary>
    public static readonly string[] ResidualCnnDefaults = ["relu1", "relu2", "add1", "relu3", "relu4", "pool", "logits"];

    /// <summary>
    /// A residual CNN on [3,8,8] with the traps the default selection must avoid: an input normalisation Add with
    /// an initializer, a squeeze-and-excitation block (a vector pool and a vector Sigmoid before the last spatial
    /// layer) and a bias Add with a Constant node.
    /// </summary>
    public static OnnxGraphBuilder ResidualCnn(OnnxDim batch, bool softmax = false, bool hardCodedReshape = false, int opset = 13)
    {
        var b = new OnnxGraphBuilder(opset);
        var random = new Random(7);
        float[] W(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();

        var x = b.Input("x", batch, 3, 8, 8);
        var normalized = b.Add(x, b.Initializer("mean", W(3), 1, 3, 1, 1), "normalize");
        var r1 = b.Relu(b.Conv(normalized, W(4 * 3 * 9), [4, 3, 3, 3], W(4), pads: [1], output: "conv1"), "relu1");
        var r2 = b.Relu(b.Conv(r1, W(4 * 4 * 9), [4, 4, 3, 3], W(4), pads: [1], output: "conv2"), "relu2");
        var c3 = b.Conv(r2, W(4 * 4 * 9), [4, 4, 3, 3], W(4), pads: [1], output: "conv3");
        var r3 = b.Relu(b.Add(c3, r1, "add1"), "relu3");
        var pooled = b.MaxPool(r3, 2, 2, output: "maxpool");
        var gate = b.Sigmoid(b.Conv(b.GlobalAveragePool(pooled, "se_pool"), W(16), [4, 4, 1, 1], W(4), output: "se_conv"), "se_gate");
        var scaled = b.Mul(pooled, gate, "se_scale");
        var c4 = b.Conv(scaled, W(4 * 4 * 9), [4, 4, 3, 3], pads: [1], output: "conv4");
        var r4 = b.Relu(b.Add(c4, b.Constant(W(4), [1, 4, 1, 1], "bias4"), "bias_add"), "relu4");
        var pool = b.GlobalAveragePool(r4, "pool");
        var flat = hardCodedReshape ? b.Reshape(pool, [1, 4], "flat") : b.Flatten(pool, output: "flat");
        var logits = b.Gemm(flat, W(12), 3, 4, W(3), "logits");
        if (softmax) b.Output(b.Softmax(logits, axis: 1, output: "probs"), batch, 3);
        else b.Output(logits, batch, 3);
        if (batch.Value is 1) b.ValueInfo("relu1", 1, 4, 8, 8).ValueInfo("pool", 1, 4, 1, 1); // stale once the batch is free
        return b;
    }

    /// <summary>
    /// A tiny transformer on [3,4,4]: 2×2 patches give 4 tokens plus a class token ([N,5,4]); an MLP with Relu and a
    /// residual Add; a position embedding expanded to the batch through Shape (so it depends on the image's shape
    /// only); final LayerNorm; the class token (Gather) as pool; a Gemm head.
    /// </summary>
    public static OnnxGraphBuilder TinyTransformer()
    {
        var b = new OnnxGraphBuilder(opset: 17);
        var random = new Random(11);
        float[] W(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();

        var x = b.Input("x", "N", 3, 4, 4);
        var patches = b.Conv(x, W(4 * 3 * 4), [4, 3, 2, 2], W(4), strides: [2], output: "patch_embed"); // [N,4,2,2]
        var tokens = b.Transpose(b.Reshape(patches, [0, 4, 4], "patch_flat"), [0, 2, 1], "tokens");   // [N,4,4]
        var cls = b.ReduceMean(tokens, [1], output: "cls_init");                                          // [N,1,4]
        var sequence = b.Concat(1, [cls, tokens], "sequence");                                            // [N,5,4]
        // The position embedding is expanded to the batch through Shape: it depends on the image's shape only.
        var position = b.Node("Expand", [b.Initializer("pos_embed", W(20), 1, 5, 4), b.Node("Shape", [sequence], "sequence_shape")], "pos_expanded");
        var embedded = b.Add(sequence, position, "embedded");
        var hidden = b.Relu(b.MatMul(embedded, b.Initializer("fc1.weight", W(32), 4, 8), "fc1"), "mlp_act");
        var residual = b.Add(b.MatMul(hidden, b.Initializer("fc2.weight", W(32), 8, 4), "fc2"), embedded, "residual");
        var normed = b.LayerNormalization(residual, [1, 1, 1, 1], [0, 0, 0, 0], output: "final_norm");
        var clsOut = b.Gather(normed, [0], axis: 1, scalarIndex: true, output: "cls_token");              // [N,4]
        b.Output(b.Gemm(clsOut, W(8), 2, 4, W(2), "head"));
        return b;
    }

    /// <summary>Random images [n, c, h, w] in [-scale, scale).</summary>
    public static torch.Tensor Images(long n, long c, long h, long w, int seed = 3, float scale = 1)
    {
        var random = new Random(seed);
        var data = new float[n * c * h * w];
        for (var i = 0; i < data.Length; i++) data[i] = scale * (float)(random.NextDouble() * 2 - 1);
        return torch.tensor(data, [n, c, h, w]);
    }

    public static float[] Values(torch.Tensor t) => t.contiguous().data<float>().ToArray();

    /// <summary>The checkout's root: the folder holding EquivarianceLab.sln.</summary>
    public static string RepositoryRoot() =>
        FeatureModels.RepositoryPaths.Root ?? throw new InvalidOperationException("The repository root was not found above " + AppContext.BaseDirectory);
}

/// <summary>A temporary folder for graph files, deleted after the test.</summary>
internal sealed class OnnxTempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("eqlab-onnx-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Save(OnnxGraphBuilder builder, string name = "model.onnx") => builder.Save(File(name));

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>Disposes every tensor of a Forward result.</summary>
internal sealed class Features(IReadOnlyList<torch.Tensor> tensors) : IDisposable
{
    public IReadOnlyList<torch.Tensor> Tensors { get; } = tensors;
    public int Count => Tensors.Count;
    public torch.Tensor this[int i] => Tensors[i];

    public void Dispose()
    {
        foreach (var t in Tensors) t.Dispose();
    }
}
