using TorchSharp;

namespace EquivarianceLab.FeatureModels;

/// <summary>
/// Turns a probe batch into an ordered list of named feature tensors (docs/models-and-probes.md, "Feature models").
/// </summary>
public interface IFeatureModel : IDisposable
{
    /// <summary>Display name (file name or zoo id).</summary>
    string Name { get; }

    /// <summary>Input shape without the batch dimension, [C, H, W]; a dimension of -1 is free.</summary>
    IReadOnlyList<long> InputShape { get; }

    /// <summary>The measured layers, in forward order.</summary>
    IReadOnlyList<string> Layers { get; }

    /// <summary>The layer holding the model's logits (before any softmax), if it is measured; null for featurizers.</summary>
    string? LogitsLayer { get; }

    /// <summary>
    /// Where <see cref="Forward(torch.Tensor)"/> wants its batch and returns its features: the measure moves each batch here once, and
    /// the similarities run where the features are. The CPU unless the model was opened on a GPU and keeps its tensors there.
    /// </summary>
    Compute.ComputeDevice Device => Compute.ComputeDevice.Cpu;

    /// <summary>
    /// Runs one batch <c>[B, C, H, W]</c> (float32, on <see cref="Device"/>; a model on a GPU also takes a CPU batch)
    /// and returns one tensor per entry of <see cref="Layers"/>, in that order, each with the batch dimension first, on
    /// <see cref="Device"/>. The caller owns (and disposes) the returned tensors. Runs without gradients.
    /// </summary>
    IReadOnlyList<torch.Tensor> Forward(torch.Tensor batch);

    /// <summary>
    /// <see cref="Forward(torch.Tensor)"/>, writing the layers into <paramref name="into"/> where the model can (ONNX
    /// Runtime writes its outputs in place; a TorchSharp module allocates its own): the tensors returned are then views
    /// that the next call on the same buffers overwrites. The caller disposes the returned tensors and, when done, the buffers.
    /// </summary>
    IReadOnlyList<torch.Tensor> Forward(torch.Tensor batch, FeatureBuffers into) => Forward(batch);
}
