using EquivarianceLab.Architectures;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Measure;

/// <summary>
/// Two same-size convolutions without bias and an activation between them, hooked at <c>conv1</c>, the activation,
/// <c>conv2</c> and the spatial mean (<c>pool</c>, also the <c>logits</c>): networks whose answer to a continuous
/// transform is known by construction.
/// </summary>
internal sealed class TwoConvNet : HookedModule
{
    private readonly nn.Module<Tensor, Tensor> _c1, _c2;
    private readonly string _activationName;
    private readonly Func<Tensor, Tensor> _activation;

    private TwoConvNet(string name, nn.Module<Tensor, Tensor> c1, nn.Module<Tensor, Tensor> c2, string activationName, Func<Tensor, Tensor> activation)
        : base(name)
    {
        (_c1, _c2, _activationName, _activation) = (c1, c2, activationName, activation);
        RegisterComponents();
    }

    /// <summary>
    /// Zero-padded 3×3 convolutions and tanh: linear shift-invariant maps and a smooth pointwise function that keeps 0
    /// at 0, so a black background stays black at every layer and no padding edge shows.
    /// </summary>
    public static TwoConvNet Smooth(int seed)
    {
        var (c1, c2) = (nn.Conv2d(1, 6, 3, padding: 1, bias: false), nn.Conv2d(6, 6, 3, padding: 1, bias: false));
        SeededWeights.Apply(seed, c1, c2);
        return new TwoConvNet("smooth-conv-net", c1, c2, "tanh1", torch.tanh);
    }

    /// <summary>
    /// Every filter a Gaussian on a round support (radius 4 on 9×9) and ReLU: each layer commutes with rotation by any
    /// angle up to sampling, so its equivariance at any angle is 1 up to interpolation.
    /// </summary>
    public static TwoConvNet Round() => new("round-net", RoundFilters(1, 4, 9), RoundFilters(4, 4, 9), "relu1", x => nn.functional.relu(x));

    private static nn.Module<Tensor, Tensor> RoundFilters(long inC, long outC, int k)
    {
        var conv = nn.Conv2d(inC, outC, k, padding: k / 2, bias: false);
        var random = new Random((int)(inC * 10 + outC));
        var w = new float[outC * inC * k * k];
        int c = k / 2;
        for (long o = 0; o < outC * inC; o++)
        {
            double sigma = 0.8 + 0.5 * random.NextDouble(), amp = random.NextDouble() * 2 - 1;
            for (int y = 0; y < k; y++)
                for (int x = 0; x < k; x++)
                {
                    int r2 = (y - c) * (y - c) + (x - c) * (x - c);
                    w[o * k * k + y * k + x] = r2 <= c * c ? (float)(amp * Math.Exp(-r2 / (2 * sigma * sigma))) : 0f;
                }
        }
        using (no_grad()) ((TorchSharp.Modules.Conv2d)conv).weight!.copy_(tensor(w, [outC, inC, k, k]));
        return conv;
    }

    public override IReadOnlyList<string> HookPoints => ["conv1", _activationName, "conv2", PoolHook, LogitsHook];
    public override IReadOnlyList<long> InputShape => [1, -1, -1];

    protected override Tensor Run(Tensor input, HookRecorder? hooks)
    {
        var x = _c1.forward(input);
        hooks?.Record("conv1", x);
        x = _activation(x);
        hooks?.Record(_activationName, x);
        x = _c2.forward(x);
        hooks?.Record("conv2", x);
        var pooled = x.mean([-2L, -1L]);
        hooks?.Record(PoolHook, pooled);
        hooks?.Record(LogitsHook, pooled);
        return pooled;
    }
}
