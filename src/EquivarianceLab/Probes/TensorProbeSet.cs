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
        // The conversion's intermediate results are temporaries (docs/architecture.md): in a scope, which disposes them
        // and, if the check fails, the converted copy; only the stored images leave it.
        using var scope = NewDisposeScope();
        var floats = images.to_type(ScalarType.Float32).contiguous();
        FiniteValues.Check(floats, 0, name); // in memory already: checking it all costs next to nothing
        _images = floats.DetachFromDisposeScope();
        if (!ReferenceEquals(_images, images)) images.Dispose(); // it was given to this set, which keeps the copy
    }

    public string Name { get; }
    public int Count => (int)_images.shape[0];
    public IReadOnlyList<long> ImageShape => _images.shape[1..];
    public Tensor ReadBatch(int start, int count)
    {
        using var rows = _images.narrow(0, start, count); // not left to the finalizer (docs/architecture.md)
        return rows.clone();
    }
    public void Dispose() => _images.Dispose();
}
