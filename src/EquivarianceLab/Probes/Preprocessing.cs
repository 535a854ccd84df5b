namespace EquivarianceLab.Probes;

/// <summary>
/// How decoded images become the model's input tensor (from the model card): pixels in [0, 255] are
/// multiplied by <see cref="Scale"/>, then per channel <c>(x - Mean[c]) / Std[c]</c>, in <see cref="ChannelOrder"/>.
/// </summary>
public sealed record Preprocessing
{
    /// <summary>"RGB", "BGR" or "L" (grey scale, one channel).</summary>
    public string ChannelOrder { get; init; } = "RGB";
    public double Scale { get; init; } = 1.0 / 255.0;
    public double[] Mean { get; init; } = [0, 0, 0];
    public double[] Std { get; init; } = [1, 1, 1];

    /// <summary>The ImageNet convention used by torchvision models.</summary>
    public static Preprocessing ImageNet { get; } = new() { Mean = [0.485, 0.456, 0.406], Std = [0.229, 0.224, 0.225] };
}

/// <summary>What an image probe set must be decoded into: the model's input size and its preprocessing.</summary>
public sealed record ProbeTarget(int Channels, int Height, int Width, Preprocessing Preprocessing);
