using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquivarianceLab.Architectures;

/// <summary>
/// The 7-layer CNN of the paper's §4.3 (after Cohen &amp; Welling's Z2CNN): seven 3×3 convolutions with 20·width
/// channels, each followed by batch norm and ReLU, a 2×2 max-pool after layer 2, global average pooling and a linear
/// classifier. Convolutions pad by 1, so a 28×28 input gives 28×28 maps in layers 1–2 and 14×14 in layers 3–7.
/// Hook points: <c>layer1</c> … <c>layer7</c> (after the ReLU; layer 2 before the pool), <c>pool</c>, <c>logits</c>.
/// </summary>
public sealed class Cnn7 : HookedModule
{
    public const int BaseChannels = 20;
    private readonly ModuleList<Sequential> layers = nn.ModuleList<Sequential>();
    private readonly Linear fc;
    private readonly string[] _hooks;
    private readonly long[] _inputShape;

    public Cnn7(int inChannels = 1, int classes = 10, int width = 1) : base("Cnn7")
    {
        int channels = BaseChannels * width;
        for (int i = 0; i < 7; i++)
        {
            layers.Add(nn.Sequential(
                ("conv", nn.Conv2d(i == 0 ? inChannels : channels, channels, kernel_size: 3, padding: 1, bias: false)),
                ("bn", nn.BatchNorm2d(channels)),
                ("relu", nn.ReLU())));
        }
        fc = nn.Linear(channels, classes);
        RegisterComponents();
        _hooks = [.. Enumerable.Range(1, 7).Select(i => $"layer{i}"), PoolHook, LogitsHook];
        _inputShape = [inChannels, -1, -1];
    }

    public override IReadOnlyList<string> HookPoints => _hooks;
    public override IReadOnlyList<long> InputShape => _inputShape;

    protected override Tensor Run(Tensor input, HookRecorder? hooks)
    {
        var x = input;
        for (int i = 0; i < layers.Count; i++)
        {
            x = layers[i].call(x);
            hooks?.Record(_hooks[i], x);
            if (i == 1) x = nn.functional.max_pool2d(x, 2);
        }
        var pooled = x.mean([2, 3]);
        hooks?.Record(PoolHook, pooled);
        var logits = fc.call(pooled);
        hooks?.Record(LogitsHook, logits);
        return logits;
    }
}
