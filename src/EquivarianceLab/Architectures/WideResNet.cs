using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquivarianceLab.Architectures;

/// <summary>
/// Wide ResNet WRN-depth-k (Zagoruyko &amp; Komodakis, 2016): a 3×3 stem convolution with <c>base</c> channels, three
/// groups of (depth−4)/6 pre-activation basic blocks with base·k, 2·base·k and 4·base·k channels (stride 2 at the start
/// of groups 2 and 3; 1×1 convolution shortcuts where the shape changes), a final batch norm + ReLU, global average
/// pooling and a linear classifier. The paper's networks use base 16; a smaller base keeps wide models small.
/// Hook points: every block output <c>block{g}.{b}</c>, <c>pool</c>, <c>logits</c>.
/// </summary>
public sealed class WideResNet : HookedModule
{
    private readonly Conv2d conv1;
    private readonly Sequential block1;
    private readonly Sequential block2;
    private readonly Sequential block3;
    private readonly BatchNorm2d bn1;
    private readonly Linear fc;
    private readonly string[] _hooks;
    private readonly long[] _inputShape;

    public WideResNet(int depth = 16, int widthFactor = 1, int inChannels = 3, int classes = 10, int baseChannels = 16) : base($"WRN-{depth}-{widthFactor}")
    {
        if (depth < 10 || (depth - 4) % 6 != 0)
            throw new EquivarianceLabException($"A Wide ResNet has depth 6n+4 (10, 16, 22, 28, 40, …); {depth} is not.");
        int n = (depth - 4) / 6;
        int c0 = baseChannels, c1 = baseChannels * widthFactor, c2 = 2 * c1, c3 = 4 * c1;
        conv1 = nn.Conv2d(inChannels, c0, kernel_size: 3, padding: 1, bias: false);
        block1 = MakeGroup(c0, c1, n, 1);
        block2 = MakeGroup(c1, c2, n, 2);
        block3 = MakeGroup(c2, c3, n, 2);
        bn1 = nn.BatchNorm2d(c3);
        fc = nn.Linear(c3, classes);
        RegisterComponents();
        Init.KaimingConvolutions(this);
        var hooks = new List<string>();
        for (int g = 1; g <= 3; g++)
            for (int b = 0; b < n; b++)
                hooks.Add($"block{g}.{b}");
        hooks.Add(PoolHook);
        hooks.Add(LogitsHook);
        _hooks = [.. hooks];
        _inputShape = [inChannels, -1, -1];
    }

    private static Sequential MakeGroup(int inPlanes, int planes, int blocks, int stride)
    {
        var group = nn.Sequential();
        for (int b = 0; b < blocks; b++)
            group.append(b.ToString(System.Globalization.CultureInfo.InvariantCulture), new PreActBlock(b == 0 ? inPlanes : planes, planes, b == 0 ? stride : 1));
        return group;
    }

    public override IReadOnlyList<string> HookPoints => _hooks;
    public override IReadOnlyList<long> InputShape => _inputShape;

    protected override Tensor Run(Tensor input, HookRecorder? hooks)
    {
        var x = conv1.call(input);
        int h = 0;
        foreach (var group in new[] { block1, block2, block3 })
        {
            foreach (var (_, block) in group.named_children())
            {
                x = ((nn.Module<Tensor, Tensor>)block).call(x);
                hooks?.Record(_hooks[h++], x);
            }
        }
        var pooled = nn.functional.relu(bn1.call(x)).mean([2, 3]);
        hooks?.Record(PoolHook, pooled);
        var logits = fc.call(pooled);
        hooks?.Record(LogitsHook, logits);
        return logits;
    }

    private sealed class PreActBlock : nn.Module<Tensor, Tensor>
    {
        private readonly BatchNorm2d bn1;
        private readonly Conv2d conv1;
        private readonly BatchNorm2d bn2;
        private readonly Conv2d conv2;
        private readonly Conv2d? shortcut;

        public PreActBlock(int inPlanes, int planes, int stride) : base("PreActBlock")
        {
            bn1 = nn.BatchNorm2d(inPlanes);
            conv1 = nn.Conv2d(inPlanes, planes, kernel_size: 3, stride: stride, padding: 1, bias: false);
            bn2 = nn.BatchNorm2d(planes);
            conv2 = nn.Conv2d(planes, planes, kernel_size: 3, padding: 1, bias: false);
            if (stride != 1 || inPlanes != planes)
                shortcut = nn.Conv2d(inPlanes, planes, kernel_size: 1, stride: stride, bias: false);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            var o = nn.functional.relu(bn1.call(x));
            var y = conv1.call(o);
            y = conv2.call(nn.functional.relu(bn2.call(y)));
            return y.Plus(shortcut is null ? x : shortcut.call(o));
        }
    }
}
