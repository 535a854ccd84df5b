using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Training;

/// <summary>The training augmentations of the paper's §4.4.</summary>
public enum AugmentationKind
{
    None,
    /// <summary>Random crop after zero-padding by 4 pixels (a random translation by up to ±4 pixels).</summary>
    Crop,
    /// <summary>Horizontal flip with probability ½.</summary>
    Flip,
    /// <summary>CutMix (Yun et al., 2019): with probability ½ a random box is pasted from another image of the batch; the
    /// loss mixes both labels by area (λ ~ Beta(1, 1)).</summary>
    CutMix,
    /// <summary>RandAugment (Cubuk et al., 2020): two random operations per image at magnitude 9 of 30.</summary>
    RandAugment,
}

/// <summary>A training batch after augmentation: inputs in [0, 1]; with CutMix, a second label set and its weight.</summary>
public sealed record AugmentedBatch(Tensor Images, Tensor Labels, Tensor? MixLabels, double MixWeight);

/// <summary>
/// Applies augmentations to a batch of images in [0, 1] ([B, C, H, W] float32). All randomness comes from the given
/// <see cref="Random"/>, so training is reproducible from its seed.
/// </summary>
public static class Augmentation
{
    public const int CropPadding = 4;
    public const double CutMixProbability = 0.5;

    public static IReadOnlyList<string> Names { get; } = ["none", "crop", "flip", "cutmix", "randaugment"];

    /// <summary>Parses a comma-separated list (<c>crop,flip</c>); <c>none</c> alone means no augmentation.</summary>
    public static IReadOnlyList<AugmentationKind> Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return [];
        var result = new List<AugmentationKind>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var key = part.ToLowerInvariant().Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal);
            var kind = key switch
            {
                "none" => AugmentationKind.None,
                "crop" or "randomcrop" => AugmentationKind.Crop,
                "flip" or "hflip" or "horizontalflip" => AugmentationKind.Flip,
                "cutmix" => AugmentationKind.CutMix,
                "randaugment" or "randaug" => AugmentationKind.RandAugment,
                _ => throw new EquivarianceLabException($"Unknown augmentation '{part}'; known: {string.Join(", ", Names)} (comma-separated to combine)."),
            };
            if (kind != AugmentationKind.None && !result.Contains(kind)) result.Add(kind);
        }
        return result;
    }

    public static string Describe(IReadOnlyList<AugmentationKind> kinds) =>
        kinds.Count == 0 ? "none" : string.Join(",", kinds.Select(k => Names[(int)k]));

    /// <summary>Applies the augmentations in a fixed order: RandAugment, crop, flip, then CutMix.</summary>
    public static AugmentedBatch Apply(Tensor images, Tensor labels, IReadOnlyList<AugmentationKind> kinds, Random rng)
    {
        var x = images;
        if (kinds.Contains(AugmentationKind.RandAugment)) x = RandAugment.Apply(x, rng);
        if (kinds.Contains(AugmentationKind.Crop)) x = RandomCrop(x, CropPadding, rng);
        if (kinds.Contains(AugmentationKind.Flip)) x = RandomHorizontalFlip(x, rng);
        if (kinds.Contains(AugmentationKind.CutMix) && rng.NextDouble() < CutMixProbability) return CutMix(x, labels, rng);
        return new AugmentedBatch(x, labels, null, 1.0);
    }

    /// <summary>Zero-pads by <paramref name="padding"/> and crops each image back to its size at a random offset.</summary>
    public static Tensor RandomCrop(Tensor x, int padding, Random rng)
    {
        long b = x.shape[0], h = x.shape[2], w = x.shape[3];
        var padded = nn.functional.pad(x, [padding, padding, padding, padding]);
        var crops = new Tensor[b];
        for (long i = 0; i < b; i++)
        {
            int dy = rng.Next(2 * padding + 1), dx = rng.Next(2 * padding + 1);
            crops[i] = padded[i].narrow(1, dy, h).narrow(2, dx, w);
        }
        return torch.stack(crops);
    }

    /// <summary>Mirrors each image's columns with probability ½.</summary>
    public static Tensor RandomHorizontalFlip(Tensor x, Random rng)
    {
        long b = x.shape[0];
        var mask = new bool[b];
        for (int i = 0; i < b; i++) mask[i] = rng.NextDouble() < 0.5;
        var m = torch.tensor(mask).reshape(b, 1, 1, 1);
        return torch.where(m, x.flip(3), x);
    }

    /// <summary>CutMix: one box (area fraction 1 − λ, λ ~ U(0, 1) = Beta(1, 1)) from a shuffled copy of the batch; λ is then
    /// corrected to the box's clipped area.</summary>
    public static AugmentedBatch CutMix(Tensor x, Tensor labels, Random rng)
    {
        long b = x.shape[0], h = x.shape[2], w = x.shape[3];
        double lambda = rng.NextDouble();
        double cut = Math.Sqrt(1 - lambda);
        int cutH = (int)(h * cut), cutW = (int)(w * cut);
        int cy = rng.Next((int)h), cx = rng.Next((int)w);
        int y1 = Math.Clamp(cy - cutH / 2, 0, (int)h), y2 = Math.Clamp(cy + cutH / 2, 0, (int)h);
        int x1 = Math.Clamp(cx - cutW / 2, 0, (int)w), x2 = Math.Clamp(cx + cutW / 2, 0, (int)w);
        var order = Enumerable.Range(0, (int)b).ToArray();
        rng.Shuffle(order);
        var perm = torch.tensor(order.Select(i => (long)i).ToArray());
        var mixed = x.clone();
        if (y2 > y1 && x2 > x1)
        {
            var patch = x.index_select(0, perm).narrow(2, y1, y2 - y1).narrow(3, x1, x2 - x1);
            mixed.narrow(2, y1, y2 - y1).narrow(3, x1, x2 - x1).copy_(patch);
        }
        double weight = 1.0 - (double)(y2 - y1) * (x2 - x1) / (h * w);
        return new AugmentedBatch(mixed, labels, labels.index_select(0, perm), weight);
    }
}
