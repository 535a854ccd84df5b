using EquivarianceLab.Compute;

namespace EquivarianceLab.Measure;

/// <summary>
/// What the score decided for each image and channel of one layer and transform: the best partner c′ (the argmax of
/// the equivariance's max over c′), that best similarity, and the c′ = c similarity (the invariance's pair). Laid
/// out image-major, <c>[n · C]</c>; −1 and NaN where the channel had no valid partner or pair. Filled by the fused
/// kernel or copied from the batched product's tensors, and read by <see cref="ChannelMatchAccumulator"/>.
/// </summary>
public sealed class ChannelChoices
{
    public int Images { get; private set; }
    public int Channels { get; private set; }
    public int[] Partner { get; private set; } = [];
    public float[] Best { get; private set; } = [];
    public float[] Diagonal { get; private set; } = [];

    /// <summary>Sized for <paramref name="images"/> × <paramref name="channels"/>, reusing the arrays when they are large enough.</summary>
    public ChannelChoices Resize(int images, int channels)
    {
        int size = checked(images * channels);
        if (Partner.Length < size)
        {
            Recycle();
            Partner = RecycledArrays.Shared.Rent<int>(size);
            Best = RecycledArrays.Shared.Rent<float>(size);
            Diagonal = RecycledArrays.Shared.Rent<float>(size);
        }
        Images = images;
        Channels = channels;
        return this;
    }

    /// <summary>Hands the arrays to <see cref="RecycledArrays"/> (the choices are empty after).</summary>
    public void Recycle()
    {
        RecycledArrays.Shared.Return(Partner);
        RecycledArrays.Shared.Return(Best);
        RecycledArrays.Shared.Return(Diagonal);
        (Partner, Best, Diagonal, Images, Channels) = ([], [], [], 0, 0);
    }

    /// <summary>No channel of these images has a partner or a pair (a layer the comparison had to skip).</summary>
    public ChannelChoices Unmatched(int images, int channels)
    {
        Resize(images, channels);
        int size = images * channels;
        Partner.AsSpan(0, size).Fill(-1);
        Best.AsSpan(0, size).Fill(float.NaN);
        Diagonal.AsSpan(0, size).Fill(float.NaN);
        return this;
    }
}
