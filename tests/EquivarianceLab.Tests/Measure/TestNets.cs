using EquivarianceLab.Architectures;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Measure;

/// <summary>
/// A small, deliberately unstructured net for comparisons with <see cref="ReferenceMeasure"/>: a full-resolution conv,
/// a strided conv (feature maps at half size, so shifts round), a channel that is dead after ReLU (degenerate), a token
/// layer with a class-token prefix, global pooling and logits.
/// </summary>
public sealed class ProbeNet : HookedModule
{
    private readonly nn.Module<Tensor, Tensor> _conv1, _conv2;
    private readonly nn.Module<Tensor, Tensor> _head;
    public static readonly IReadOnlyList<string> Hooks = ["conv1", "conv2", "tokens", PoolHook, LogitsHook];

    public ProbeNet(int seed, long inChannels = 1, PaddingModes padding = PaddingModes.Zeros) : base("probe-net")
    {
        _conv1 = nn.Conv2d(inChannels, 6, 3, padding: 1, padding_mode: padding);
        _conv2 = nn.Conv2d(6, 5, 3, stride: 2, padding: 1, padding_mode: padding);
        _head = nn.Linear(5, 4);
        SeededWeights.Apply(seed, _conv1, _conv2, _head);
        using (no_grad())
        {
            var conv2 = (TorchSharp.Modules.Conv2d)_conv2;
            conv2.bias![4] = -1e6f; // channel 4 never fires: a degenerate (all-zero) channel
        }
        RegisterComponents();
    }

    public override IReadOnlyList<string> HookPoints => Hooks;
    public override IReadOnlyList<long> InputShape => [-1, -1, -1];

    protected override Tensor Run(Tensor input, HookRecorder? hooks)
    {
        var x = nn.functional.relu(_conv1.forward(input));
        hooks?.Record("conv1", x);
        x = nn.functional.relu(_conv2.forward(x));
        hooks?.Record("conv2", x);
        // Tokens [N, 1 + h·w, C]: a class-token-like prefix (channel means) then the grid row-major.
        var grid = x.flatten(2).transpose(1, 2);
        var tokens = cat([grid.mean([1L], keepdim: true), grid.Times(2.0).Plus(1.0)], 1);
        hooks?.Record("tokens", tokens);
        var pooled = x.mean([-2L, -1L]);
        hooks?.Record(PoolHook, pooled);
        var logits = _head.forward(pooled);
        hooks?.Record(LogitsHook, logits);
        return logits;
    }
}

/// <summary>Stride-1 convolutions with circular padding: every layer commutes with circular shifts exactly.</summary>
public sealed class CircularNet : HookedModule
{
    private readonly nn.Module<Tensor, Tensor> _c1, _c2, _c3;
    public static readonly IReadOnlyList<string> Hooks = ["c1", "c2", "c3", PoolHook];

    public CircularNet(int seed) : base("circular-net")
    {
        _c1 = nn.Conv2d(1, 8, 3, padding: 1, padding_mode: PaddingModes.Circular);
        _c2 = nn.Conv2d(8, 8, 5, padding: 2, padding_mode: PaddingModes.Circular);
        _c3 = nn.Conv2d(8, 8, 3, padding: 1, padding_mode: PaddingModes.Circular);
        SeededWeights.Apply(seed, _c1, _c2, _c3);
        RegisterComponents();
    }

    public override IReadOnlyList<string> HookPoints => Hooks;
    public override IReadOnlyList<long> InputShape => [1, -1, -1];

    protected override Tensor Run(Tensor input, HookRecorder? hooks)
    {
        var x = nn.functional.relu(_c1.forward(input));
        hooks?.Record("c1", x);
        x = nn.functional.relu(_c2.forward(x));
        hooks?.Record("c2", x);
        x = torch.tanh(_c3.forward(x));
        hooks?.Record("c3", x);
        var pooled = x.mean([-2L, -1L]);
        hooks?.Record(PoolHook, pooled);
        return pooled;
    }
}
