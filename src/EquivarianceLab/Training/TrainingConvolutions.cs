using TorchSharp;

namespace EquivarianceLab.Training;

/// <summary>
/// Which convolutions a training run uses. The measure always runs PyTorch's own exact kernel (docs/measure.md, "Exact
/// convolutions"), and so does training where oneDNN is unreliable; but that kernel's backward pass makes training a
/// ResNet-20 about 6× as long (0.41 s per step with oneDNN against more than 2.5 s on this project's 2-core machine).
/// oneDNN lays channels out in blocks of 16 and misbehaves only when a block is padded: a network whose every
/// convolution writes a multiple of 16 channels and reads either a multiple of 16 or the image itself has no padded
/// block, and training it with oneDNN gave the same checkpoint bits in repeated runs (the ResNets, the ViT and the
/// Mixer). The 7-layer CNN (20 channels) and the Wide ResNets with <c>base=4</c> (a 4-channel stem) do not qualify: with
/// oneDNN a WRN-16-1 diverged to NaN at its second step. The accuracy on the card is always measured with exact
/// convolutions.
/// </summary>
public static class TrainingConvolutions
{
    private const int Block = 16;

    /// <summary>Whether every convolution of the model (a parameter of rank 4: out, in per group, kh, kw) avoids padded oneDNN blocks.</summary>
    public static bool OneDnnIsSafe(torch.nn.Module model, int imageChannels)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var weight in model.parameters())
        {
            if (weight.dim() != 4) continue;
            long output = weight.shape[0], input = weight.shape[1];
            if (output % Block != 0) return false;
            if (input % Block != 0 && input != imageChannels) return false;
        }
        return true;
    }

    /// <summary>What the training log and the card's provenance say about the choice.</summary>
    public static string Describe(bool oneDnn) => oneDnn ? "oneDNN convolutions" : "exact convolutions";
}
