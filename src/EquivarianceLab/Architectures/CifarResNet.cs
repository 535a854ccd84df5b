using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquivarianceLab.Architectures;

/// <summary>
/// The CIFAR-style ResNet of He et al. (2016, §4.2), depth 6n+2: a 3×3 stem convolution with 16·width channels, three
/// stages of n basic blocks (16, 32, 64 channels × width; stride 2 at the start of stages 2 and 3), global average
/// pooling and a linear classifier. Shortcuts that change shape are parameter-free (option A: subsample and pad with
/// zero channels), as in the original ResNet-20/44. Hook points: every block output <c>layer{s}.{b}</c>, <c>pool</c>,
/// <c>logits</c>.
/// </summary>
public sealed class CifarResNet : HookedModule
{
    private readonly Conv2d conv1;
    private readonly BatchNorm2d bn1;
    private readonly Sequential layer1;
    private readonly Sequential layer2;
    private readonly Sequential layer3;
    private readonly Linear fc;
    private readonly string[] _hooks;
    private readonly long[] _inputShape;

    public int Depth { get; }

    public CifarResNet(int depth = 20, int inChannels = 3, int classes = 10, int width = 1) : base($"ResNet{depth}")
    {
        if (depth < 8 || (depth - 2) % 6 != 0)
            throw new EquivarianceLabException($"A CIFAR-style ResNet has depth 6n+2 (8, 14, 20, 32, 44, 56, 110, …); {depth} is not.");
        Depth = depth;
        int n = (depth - 2) / 6;
        int c1 = 16 * width, c2 = 32 * width, c3 = 64 * width;
        conv1 = nn.Conv2d(inChannels, c1, kernel_size: 3, padding: 1, bias: false);
        bn1 = nn.BatchNorm2d(c1);
        layer1 = MakeStage(c1, c1, n, 1);
        layer2 = MakeStage(c1, c2, n, 2);
        layer3 = MakeStage(c2, c3, n, 2);
        fc = nn.Linear(c3, classes);
        RegisterComponents();
        Init.KaimingConvolutions(this);
        var hooks = new List<string>();
        for (int s = 1; s <= 3; s++)
            for (int b = 0; b < n; b++)
                hooks.Add($"layer{s}.{b}");
        hooks.Add(PoolHook);
        hooks.Add(LogitsHook);
        _hooks = [.. hooks];
        _inputShape = [inChannels, -1, -1];
    }

    private static Sequential MakeStage(int inPlanes, int planes, int blocks, int stride)
    {
        var stage = nn.Sequential();
        for (int b = 0; b < blocks; b++)
            stage.append(b.ToString(System.Globalization.CultureInfo.InvariantCulture), new BasicBlock(b == 0 ? inPlanes : planes, planes, b == 0 ? stride : 1));
        return stage;
    }

    public override IReadOnlyList<string> HookPoints => _hooks;
    public override IReadOnlyList<long> InputShape => _inputShape;

    protected override Tensor Run(Tensor input, HookRecorder? hooks)
    {
        var x = nn.functional.relu(bn1.call(conv1.call(input)));
        int h = 0;
        foreach (var stage in new[] { layer1, layer2, layer3 })
        {
            foreach (var (_, block) in stage.named_children())
            {
                x = ((nn.Module<Tensor, Tensor>)block).call(x);
                hooks?.Record(_hooks[h++], x);
            }
        }
        var pooled = x.mean([2, 3]);
        hooks?.Record(PoolHook, pooled);
        var logits = fc.call(pooled);
        hooks?.Record(LogitsHook, logits);
        return logits;
    }

    private sealed class BasicBlock : nn.Module<Tensor, Tensor>
    {
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn1;
        private readonly Conv2d conv2;
        private readonly BatchNorm2d bn2;
        private readonly int _stride;
        private readonly int _padFront;
        private readonly int _padBack;

        public BasicBlock(int inPlanes, int planes, int stride) : base("BasicBlock")
        {
            conv1 = nn.Conv2d(inPlanes, planes, kernel_size: 3, stride: stride, padding: 1, bias: false);
            bn1 = nn.BatchNorm2d(planes);
            conv2 = nn.Conv2d(planes, planes, kernel_size: 3, padding: 1, bias: false);
            bn2 = nn.BatchNorm2d(planes);
            _stride = stride;
            _padFront = (planes - inPlanes) / 2;
            _padBack = planes - inPlanes - _padFront;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            var y = nn.functional.relu(bn1.call(conv1.call(x)));
            y = bn2.call(conv2.call(y));
            var shortcut = x;
            if (_stride != 1)
                shortcut = shortcut.slice(2, 0, shortcut.shape[2], _stride).slice(3, 0, shortcut.shape[3], _stride);
            if (_padFront != 0 || _padBack != 0)
                shortcut = nn.functional.pad(shortcut, [0, 0, 0, 0, _padFront, _padBack]);
            return nn.functional.relu(y.Plus(shortcut));
        }
    }
}
