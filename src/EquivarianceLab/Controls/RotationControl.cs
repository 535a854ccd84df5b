using EquivarianceLab.Architectures;
using EquivarianceLab.Measure;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Controls;

public enum ControlKind { Invariant, Equivariant }

/// <summary>
/// The paper's controlled toy CNNs (§4.1, Figure 3): three 3×3… here 5×5 group convolutions with hand-crafted filters,
/// ReLU after each, global average pooling and a linear classifier.
/// <list type="bullet">
/// <item><b>Invariant</b>: every filter is an isotropic Gaussian, so each layer commutes with 90° rotations channel by
/// channel: f(rot X) = rot f(X), invariance 1 at every layer.</item>
/// <item><b>Equivariant</b>: the same Gaussians with three corners cut out (one quadrant kept), arranged as a p4 group convolution: output channel
/// (j, r) uses the filter rotated r quarter turns, so rotating the input rotates each map <i>and</i> moves it to the
/// next orientation channel: equivariance 1, invariance well below 1.</item>
/// </list>
/// Zero "same" padding with odd kernels on square inputs makes both exact.
/// </summary>
public sealed class RotationControl : HookedModule
{
    public const int Orientations = 4;
    private readonly nn.Module<Tensor, Tensor> _conv1, _conv2, _conv3;
    private readonly nn.Module<Tensor, Tensor> _head;
    private readonly long _inChannels;

    public static readonly IReadOnlyList<string> Hooks = ["layer1", "layer2", "layer3", PoolHook, LogitsHook];

    public RotationControl(ControlKind kind, long inChannels = 1, int groups = 4, int kernel = 5, int classes = 10, int seed = 0)
        : base(kind == ControlKind.Invariant ? "control-rotation-invariant" : "control-rotation-equivariant")
    {
        Kind = kind;
        _inChannels = inChannels;
        var random = new Random(seed);
        long width = groups * Orientations;
        _conv1 = MakeConv(LiftingWeights(kind, inChannels, groups, kernel, random), groups, random);
        _conv2 = MakeConv(GroupWeights(kind, groups, groups, kernel, random), groups, random);
        _conv3 = MakeConv(GroupWeights(kind, groups, groups, kernel, random), groups, random);
        var linear = nn.Linear(width, classes);
        using (no_grad())
        {
            linear.weight!.copy_(tensor(Enumerable.Range(0, (int)(classes * width)).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(), [classes, width]));
            linear.bias!.zero_();
        }
        _head = linear;
        RegisterComponents();
    }

    public ControlKind Kind { get; }
    public override IReadOnlyList<string> HookPoints => Hooks;
    public override IReadOnlyList<long> InputShape => [_inChannels, -1, -1];

    protected override Tensor Run(Tensor input, HookRecorder? hooks)
    {
        var x = nn.functional.relu(_conv1.forward(input));
        hooks?.Record("layer1", x);
        x = nn.functional.relu(_conv2.forward(x));
        hooks?.Record("layer2", x);
        x = nn.functional.relu(_conv3.forward(x));
        hooks?.Record("layer3", x);
        var pooled = x.mean([-2L, -1L]);
        hooks?.Record(PoolHook, pooled);
        var logits = _head.forward(pooled);
        hooks?.Record(LogitsHook, logits);
        return logits;
    }

    private static nn.Module<Tensor, Tensor> MakeConv(Tensor weight, int groups, Random random)
    {
        long outC = weight.shape[0], inC = weight.shape[1], k = weight.shape[2];
        var conv = nn.Conv2d(inC, outC, k, padding: k / 2);
        using (no_grad())
        {
            conv.weight!.copy_(weight);
            // One bias per filter group, shared by its orientations so rotations stay exact.
            var bias = Enumerable.Range(0, groups).SelectMany(_ => Enumerable.Repeat((float)(random.NextDouble() * 0.2 - 0.1), Orientations)).ToArray();
            conv.bias!.copy_(tensor(bias));
        }
        weight.Dispose();
        return conv;
    }

    /// <summary>A Gaussian of width sigma on a k×k grid centred on the middle cell, scaled by a; for the equivariant control all but the top-left quadrant is cut out.</summary>
    private static Tensor BaseFilter(ControlKind kind, int k, double sigma, double a)
    {
        var data = new float[k * k];
        int c = k / 2;
        for (int y = 0; y < k; y++)
            for (int x = 0; x < k; x++)
            {
                bool cut = kind == ControlKind.Equivariant && (y > c || x > c); // keep one quadrant: no rotational symmetry left
                double dy = y - c, dx = x - c;
                data[y * k + x] = cut ? 0f : (float)(a * Math.Exp(-(dy * dy + dx * dx) / (2 * sigma * sigma)));
            }
        return tensor(data, [k, k]);
    }

    private static Tensor RandomFilter(ControlKind kind, int k, Random random) =>
        BaseFilter(kind, k, 0.6 + 1.4 * random.NextDouble(), (random.NextDouble() * 2 - 1) / k);

    /// <summary>Lifting layer: output (j, r) convolves every input channel with rot^r of filter (j, input channel).</summary>
    private static Tensor LiftingWeights(ControlKind kind, long inChannels, int groups, int k, Random random)
    {
        var weight = zeros(groups * Orientations, inChannels, k, k);
        for (int j = 0; j < groups; j++)
            for (int ic = 0; ic < inChannels; ic++)
            {
                using var filter = RandomFilter(kind, k, random);
                for (int r = 0; r < Orientations; r++)
                    using (var rotated = Rotation.Rotate(filter, r)) weight[j * Orientations + r, ic].copy_(rotated);
            }
        return weight;
    }

    /// <summary>p4 group convolution: W[(j′, r′), (j, r)] = rot^r′(W0[j′, j, (r − r′) mod 4]).</summary>
    private static Tensor GroupWeights(ControlKind kind, int outGroups, int inGroups, int k, Random random)
    {
        var weight = zeros(outGroups * Orientations, inGroups * Orientations, k, k);
        for (int jo = 0; jo < outGroups; jo++)
            for (int ji = 0; ji < inGroups; ji++)
                for (int s = 0; s < Orientations; s++)
                {
                    using var filter = RandomFilter(kind, k, random);
                    for (int ro = 0; ro < Orientations; ro++)
                    {
                        int ri = (ro + s) % Orientations;
                        using var rotated = Rotation.Rotate(filter, ro);
                        weight[jo * Orientations + ro, ji * Orientations + ri].copy_(rotated);
                    }
                }
        return weight;
    }
}
