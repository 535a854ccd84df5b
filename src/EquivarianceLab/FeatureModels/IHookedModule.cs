using TorchSharp;

namespace EquivarianceLab.FeatureModels;

/// <summary>
/// A TorchSharp module with named hook points: one forward pass yields the named intermediate tensors,
/// in forward order. Architectures in this project implement it so each names its measured layers.
/// </summary>
public interface IHookedModule
{
    /// <summary>All hook point names, in forward order.</summary>
    IReadOnlyList<string> HookPoints { get; }

    /// <summary>The hook point that holds the logits (before any softmax), or null for featurizers.</summary>
    string? LogitsHookPoint { get; }

    /// <summary>Runs the forward pass and returns the tensors at the requested hook points, in the order asked.</summary>
    IReadOnlyList<torch.Tensor> ForwardHooks(torch.Tensor input, IReadOnlyList<string> hookPoints);
}
