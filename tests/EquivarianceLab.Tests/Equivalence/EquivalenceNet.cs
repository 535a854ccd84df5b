using EquivarianceLab.Architectures;
using EquivarianceLab.Tests.TestModels;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Equivalence;

/// <summary>
/// A 3-layer CNN (zero padding, ReLU after each conv, the second conv strided), global average pooling and a linear
/// head, as a TorchSharp module with hook points. <see cref="ToOnnx"/> writes the very same network, with these
/// exact weights, as an ONNX graph (Conv+Relu ×3, GlobalAveragePool, Flatten, Gemm, Softmax).
/// </summary>
public sealed class EquivalenceNet : HookedModule
{
    public const long InChannels = 2, Size = 12, Classes = 5;
    private readonly Conv2d _conv1, _conv2, _conv3;
    private readonly Linear _head;

    public static readonly IReadOnlyList<string> Hooks = ["relu1", "relu2", "relu3", PoolHook, LogitsHook];

    /// <summary>The ONNX graph's tensor for each hook point, in forward order.</summary>
    public static readonly IReadOnlyList<(string Hook, string Onnx)> OnnxNames =
        [("relu1", "act1"), ("relu2", "act2"), ("relu3", "act3"), (PoolHook, "gap"), (LogitsHook, "fc")];

    public EquivalenceNet(int seed) : base("equivalence-net")
    {
        _conv1 = nn.Conv2d(InChannels, 6, 3, padding: 1);
        _conv2 = nn.Conv2d(6, 8, 3, stride: 2, padding: 1);
        _conv3 = nn.Conv2d(8, 8, 3, padding: 1);
        _head = nn.Linear(8, Classes);
        Measure.SeededWeights.Apply(seed, _conv1, _conv2, _conv3, _head);
        RegisterComponents();
    }

    public override IReadOnlyList<string> HookPoints => Hooks;
    public override IReadOnlyList<long> InputShape => [InChannels, -1, -1];

    protected override Tensor Run(Tensor input, HookRecorder? hooks)
    {
        var x = nn.functional.relu(_conv1.forward(input));
        hooks?.Record("relu1", x);
        x = nn.functional.relu(_conv2.forward(x));
        hooks?.Record("relu2", x);
        x = nn.functional.relu(_conv3.forward(x));
        hooks?.Record("relu3", x);
        var pooled = x.mean([-2L, -1L]);
        hooks?.Record(PoolHook, pooled);
        var logits = _head.forward(pooled);
        hooks?.Record(LogitsHook, logits);
        return logits;
    }

    /// <summary>
    /// The same network as an ONNX graph on <c>[batch, 2, 12, 12]</c>. With <paramref name="hardCodedReshape"/> the
    /// pooled features are flattened by a Reshape to a constant <c>[1, 8]</c> (as old exporters wrote fixed-batch
    /// graphs), which only works image by image.
    /// </summary>
    public OnnxGraphBuilder ToOnnx(OnnxDim batch, bool hardCodedReshape = false)
    {
        var b = new OnnxGraphBuilder(opset: 13);
        var x = b.Input("input", batch, InChannels, Size, Size);
        var a1 = b.Relu(Conv(b, x, _conv1, stride: 1, "conv1"), "act1");
        var a2 = b.Relu(Conv(b, a1, _conv2, stride: 2, "conv2"), "act2");
        var a3 = b.Relu(Conv(b, a2, _conv3, stride: 1, "conv3"), "act3");
        var gap = b.GlobalAveragePool(a3, "gap");
        var flat = hardCodedReshape ? b.Reshape(gap, [1, 8], "flat") : b.Flatten(gap, output: "flat");
        var fc = b.Gemm(flat, Values(_head.weight!), (int)Classes, 8, Values(_head.bias!), "fc");
        b.Output(b.Softmax(fc, axis: 1, output: "probs"), batch, Classes);
        return b;
    }

    private static string Conv(OnnxGraphBuilder b, string input, Conv2d conv, int stride, string name) =>
        b.Conv(input, Values(conv.weight!), conv.weight!.shape, Values(conv.bias!), pads: [1], strides: [stride], output: name);

    private static float[] Values(Tensor t)
    {
        using var detached = t.detach().contiguous();
        return detached.data<float>().ToArray();
    }
}
