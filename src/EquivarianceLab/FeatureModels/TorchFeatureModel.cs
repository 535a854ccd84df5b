using EquivarianceLab.Compute;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.FeatureModels;

/// <summary>
/// A TorchSharp module with named hook points (<see cref="IHookedModule"/>) as a feature model. Measures in
/// <c>eval()</c> mode without gradients.
/// </summary>
public sealed class TorchFeatureModel : IFeatureModel
{
    private readonly nn.Module<Tensor, Tensor> _module;
    private readonly IHookedModule _hooks;

    /// <param name="logits">The hook point holding the logits when not the module's own; it must be one of the layers.</param>
    /// <param name="device">Where the module runs; on CUDA its parameters move to GPU 0, and its features stay there.</param>
    public TorchFeatureModel(string name, nn.Module<Tensor, Tensor> module, IReadOnlyList<long> inputShape,
        IReadOnlyList<string>? layers = null, string? logits = null, ComputeDevice device = ComputeDevice.Cpu)
    {
        _hooks = module as IHookedModule
                 ?? throw new ArgumentException($"{module.GetType().Name} does not name its hook points.", nameof(module));
        ComputeDevices.EnsureTorch(device);
        _module = module;
        _module.eval();
        Device = device;
        Name = name;
        InputShape = inputShape;
        Layers = layers is null ? _hooks.HookPoints : ValidateLayers(name, layers, _hooks.HookPoints);
        if (logits is not null && !Layers.Contains(logits))
            throw new EquivarianceLabException(_hooks.HookPoints.Contains(logits)
                ? $"The logits layer '{logits}' is not one of the layers to measure; add it to --layers."
                : Onnx.LayerNameHints.UnknownLayer(logits, name, _hooks.HookPoints, _hooks.HookPoints));
        LogitsLayer = logits ?? (_hooks.LogitsHookPoint is { } own && Layers.Contains(own) ? own : null);
        // Last, once the layers are known to be right: moving a large module to the GPU is not free.
        if (device != ComputeDevice.Cpu) _module.to(device.ToTorch());
    }

    public ComputeDevice Device { get; }

    public string Name { get; }
    public IReadOnlyList<long> InputShape { get; }
    public IReadOnlyList<string> Layers { get; }
    public string? LogitsLayer { get; }

    /// <summary>Every hook point of the module, in forward order.</summary>
    public IReadOnlyList<string> AvailableLayers => _hooks.HookPoints;

    public IReadOnlyList<Tensor> Forward(Tensor batch)
    {
        using var noGrad = no_grad();
        if (batch.device_type == Device.ToTorch().type) return _hooks.ForwardHooks(batch, Layers);
        // A batch from elsewhere (a layer listing's zeros, a CPU probe) is moved here for this call only.
        using var moved = batch.to(Device.ToTorch());
        return _hooks.ForwardHooks(moved, Layers);
    }

    public void Dispose() => _module.Dispose();

    internal static IReadOnlyList<string> ValidateLayers(string model, IReadOnlyList<string> wanted, IReadOnlyList<string> available)
    {
        foreach (var layer in wanted)
            if (!available.Contains(layer))
                throw new EquivarianceLabException(Onnx.LayerNameHints.UnknownLayer(layer, model, available, available));
        return wanted.ToList();
    }
}
