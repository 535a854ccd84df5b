using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Probes;

/// <summary>A probe set held in memory (tests, small generated sets). Owns the tensor it is given; NaN and ±Inf are refused.</summary>
public sealed class TensorProbeSet : IProbeSet
{
    private readonly Tensor _images;

    public TensorProbeSet(string name, Tensor images)
    {
        if (images.dim() != 4) throw new EquivarianceLabException($"Probe {name} must be [N,C,H,W], not [{string.Join(",", images.shape)}].");
        Name = name;
        var floats = images.to_type(ScalarType.Float32).contiguous();
        try
        {
            FiniteValues.Check(floats, 0, name); // in memory already: checking it all costs next to nothing
        }
        catch
        {
            if (!ReferenceEquals(floats, images)) floats.Dispose();
            throw;
        }
        _images = floats.DetachFromDisposeScope();
    }

    public string Name { get; }
    public int Count => (int)_images.shape[0];
    public IReadOnlyList<long> ImageShape => _images.shape[1..];
    public Tensor ReadBatch(int start, int count) => _images.narrow(0, start, count).clone();
    public void Dispose() => _images.Dispose();
}
