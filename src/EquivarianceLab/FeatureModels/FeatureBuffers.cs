using static TorchSharp.torch;

namespace EquivarianceLab.FeatureModels;

/// <summary>
/// Layer tensors that a feature model writes a batch into, kept from one batch to the next by the caller. Fresh
/// tensors for every batch cost a page fault per 4 KiB page the first time the model writes them: the ImageNet
/// ResNet-18's 29 layers are about 14 MB an image, and at batch 8 the measurement spent a second of system time
/// (about a third of its page faults) on them; glibc returns blocks that large to the system when they are freed.
/// <see cref="Rows"/> hands out views of the same storage while the layers' shapes stay the same and the batch is no
/// larger, so a model that writes in place (<see cref="IFeatureModel.Forward(Tensor, FeatureBuffers)"/>) allocates
/// once per run. What a call returns is overwritten by the next call on the same buffers.
/// </summary>
public sealed class FeatureBuffers : IDisposable
{
    // [rows, ..shape] per layer; the rows and shapes they serve are read off them.
    private Tensor[] _tensors = [];

    /// <summary>
    /// One tensor per entry of <paramref name="perImage"/>, <c>[count, ..shape]</c> float32 on the CPU: views (owned by
    /// the caller's dispose scope) of storage these buffers keep. A larger batch or other shapes replace the storage.
    /// </summary>
    public List<Tensor> Rows(long[][] perImage, long count)
    {
        if (!Serves(perImage, count))
        {
            Release();
            var tensors = new Tensor[perImage.Length];
            try
            {
                for (var i = 0; i < perImage.Length; i++)
                    tensors[i] = empty([count, .. perImage[i]], ScalarType.Float32).DetachFromDisposeScope();
            }
            catch
            {
                foreach (var t in tensors) t?.Dispose();
                throw;
            }
            _tensors = tensors;
        }
        return _tensors.Select(t => t.narrow(0, 0, count)).ToList();
    }

    public void Dispose() => Release();

    /// <summary>Whether the kept tensors have these layers' shapes and at least <paramref name="count"/> rows.</summary>
    private bool Serves(long[][] perImage, long count) =>
        perImage.Length == _tensors.Length && _tensors.Length > 0 && count <= _tensors[0].shape[0]
        && perImage.Zip(_tensors).All(p => p.First.AsSpan().SequenceEqual(p.Second.shape.AsSpan(1)));

    private void Release()
    {
        foreach (var t in _tensors) t.Dispose();
        _tensors = [];
    }
}
