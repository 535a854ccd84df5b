using TorchSharp;

namespace EquivarianceLab.Probes;

/// <summary>
/// A set of probe images already in the form the model receives, after preprocessing
/// (docs/models-and-probes.md, "Preprocessing").
/// </summary>
public interface IProbeSet : IDisposable
{
    string Name { get; }

    /// <summary>Number of images available.</summary>
    int Count { get; }

    /// <summary>Shape of one image, [C, H, W].</summary>
    IReadOnlyList<long> ImageShape { get; }

    /// <summary>Reads images <c>[start, start+count)</c> as a float32 CPU tensor <c>[count, C, H, W]</c>; the caller disposes it.</summary>
    torch.Tensor ReadBatch(int start, int count);
}
