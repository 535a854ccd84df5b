using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquivarianceLab.Architectures;

/// <summary>
/// ResNet-18 / ResNet-50 from the TorchVision package, for PyTorch checkpoints: the parameter names are torchvision's
/// (<c>conv1</c>, <c>bn1</c>, <c>layer1.0.conv1</c>, …, <c>fc</c>), so a <c>torch.save(model.state_dict())</c> of a
/// torchvision ResNet loads as is. Options: <c>inChannels</c> other than 3 replaces <c>conv1</c> by a 7×7 convolution
/// with that many inputs (what PyTorch users do for grey images), <c>cifarStem</c> = 1 uses a 3×3 stride-1 <c>conv1</c>
/// and drops the max-pool (the usual small-image variant). Hook points: every block output <c>layer{s}.{b}</c>,
/// <c>pool</c>, <c>logits</c>.
/// </summary>
public sealed class TorchVisionResNet : HookedModule
{
    private static readonly string[] Order = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "fc"];
    private readonly Dictionary<string, nn.Module> _parts = new(StringComparer.Ordinal);
    private readonly object _torchVisionModel;
    private readonly bool _cifarStem;
    private readonly string[] _hooks;
    private readonly long[] _inputShape;

    public TorchVisionResNet(int depth, int inChannels = 3, int classes = 1000, bool cifarStem = false) : base($"ResNet{depth}")
    {
        TorchSharp.Modules.ResNet tv = depth switch
        {
            18 => torchvision.models.resnet18(num_classes: classes),
            50 => torchvision.models.resnet50(num_classes: classes),
            _ => throw new EquivarianceLabException($"TorchVision ResNet depth {depth} is not supported here (18 or 50)."),
        };
        _torchVisionModel = tv;
        _cifarStem = cifarStem;
        var children = tv.named_children().ToDictionary(c => c.name, c => c.module, StringComparer.Ordinal);
        foreach (var name in Order)
        {
            if (!children.TryGetValue(name, out var child))
                throw new InvalidOperationException($"TorchVision's ResNet has no child module '{name}'.");
            if (name == "conv1" && (inChannels != 3 || cifarStem))
            {
                var conv = cifarStem
                    ? nn.Conv2d(inChannels, 64, kernel_size: 3, stride: 1, padding: 1, bias: false)
                    : nn.Conv2d(inChannels, 64, kernel_size: 7, stride: 2, padding: 3, bias: false);
                using (torch.no_grad())
                    nn.init.kaiming_normal_(conv.weight, mode: nn.init.FanInOut.FanOut, nonlinearity: nn.init.NonlinearityType.ReLU);
                child.Dispose(); // TorchVision's own stem: its weight is not ours to keep, and not the finalizer's to free
                child = conv;
            }
            register_module(name, child);
            _parts[name] = child;
        }
        var hooks = new List<string>();
        for (int s = 1; s <= 4; s++)
        {
            int blocks = ((Sequential)_parts[$"layer{s}"]).Count;
            for (int b = 0; b < blocks; b++) hooks.Add($"layer{s}.{b}");
        }
        hooks.Add(PoolHook);
        hooks.Add(LogitsHook);
        _hooks = [.. hooks];
        _inputShape = [inChannels, -1, -1];
    }

    public override IReadOnlyList<string> HookPoints => _hooks;
    public override IReadOnlyList<long> InputShape => _inputShape;

    private Tensor Call(string name, Tensor x) => ((nn.Module<Tensor, Tensor>)_parts[name]).call(x);

    protected override Tensor Run(Tensor input, HookRecorder? hooks)
    {
        GC.KeepAlive(_torchVisionModel);
        var x = Call("relu", Call("bn1", Call("conv1", input)));
        if (!_cifarStem) x = Call("maxpool", x);
        int h = 0;
        for (int s = 1; s <= 4; s++)
        {
            foreach (var (_, block) in ((Sequential)_parts[$"layer{s}"]).named_children())
            {
                x = ((nn.Module<Tensor, Tensor>)block).call(x);
                hooks?.Record(_hooks[h++], x);
            }
        }
        var pooled = x.mean([2, 3]);
        hooks?.Record(PoolHook, pooled);
        var logits = Call("fc", pooled);
        hooks?.Record(LogitsHook, logits);
        return logits;
    }
}
