using EquivarianceLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Training;

public class AugmentationTests
{
    private static Tensor Batch(int n = 16)
    {
        using var d = TrainingData.Build(DataVariant.Fmnist, EquivarianceLab.Probes.FashionMnistSplit.Test, TrainingTestData.Images, TrainingTestData.Labels, limit: n);
        return TrainingData.ToUnit(d.Images);
    }

    [Fact]
    public void ParseNames()
    {
        Assert.Empty(Augmentation.Parse("none"));
        Assert.Equal([AugmentationKind.Crop, AugmentationKind.Flip], Augmentation.Parse("crop, flip"));
        Assert.Equal([AugmentationKind.CutMix], Augmentation.Parse("CutMix"));
        Assert.Equal([AugmentationKind.RandAugment], Augmentation.Parse("randaugment"));
        Assert.Equal("crop,flip", Augmentation.Describe(Augmentation.Parse("crop,flip")));
        var e = Assert.Throws<EquivarianceLabException>(() => Augmentation.Parse("mixup"));
        Assert.Contains("randaugment", e.Message);
    }

    [Fact]
    public void CropIsATranslationByAtMostFourWithZeroFill()
    {
        using var x = Batch();
        using var y = Augmentation.RandomCrop(x, 4, new Random(3));
        Assert.Equal(x.shape, y.shape);
        using var padded = nn.functional.pad(x, [4, 4, 4, 4]);
        for (int i = 0; i < 16; i++)
        {
            bool found = false;
            for (int dy = 0; dy <= 8 && !found; dy++)
                for (int dx = 0; dx <= 8 && !found; dx++)
                    found = padded[i].narrow(1, dy, 28).narrow(2, dx, 28).Same(y[i]);
            Assert.True(found, $"image {i} is a crop of the padded image");
        }
        Assert.False(x.Same(y));
    }

    [Fact]
    public void FlipMirrorsAboutHalf()
    {
        using var x = Batch(64);
        using var y = Augmentation.RandomHorizontalFlip(x, new Random(1));
        int flipped = 0;
        for (int i = 0; i < 64; i++)
        {
            if (y[i].Same(x[i].flip(2)) && !x[i].Same(x[i].flip(2))) flipped++;
            else Assert.True(y[i].Same(x[i]));
        }
        Assert.InRange(flipped, 20, 44);
    }

    [Fact]
    public void CutMixPastesABoxAndWeighsByArea()
    {
        using var x = Batch();
        using var labels = Scalars.Range(0, 16);
        var b = Augmentation.CutMix(x, labels, new Random(5));
        Assert.NotNull(b.MixLabels);
        Assert.InRange(b.MixWeight, 0.0, 1.0);
        long changedPixels = 0;
        for (int i = 0; i < 16; i++)
        {
            long other = b.MixLabels![i].item<long>();
            var differs = b.Images[i].ne(x[i]);
            changedPixels += differs.sum().item<long>();
            // Every changed pixel comes from the paired image.
            Assert.True(b.Images[i].masked_select(differs).Same(x[(int)other].masked_select(differs)));
        }
        Assert.True(changedPixels > 0);
    }

    [Fact]
    public void RandAugmentKeepsShapeAndRangeAndIsSeeded()
    {
        using var x = Batch(64);
        using var a = RandAugment.Apply(x, new Random(7));
        using var b = RandAugment.Apply(x, new Random(7));
        using var c = RandAugment.Apply(x, new Random(8));
        Assert.Equal(x.shape, a.shape);
        Assert.True(a.Same(b));
        Assert.False(a.Same(c));
        Assert.True(a.min().item<float>() >= 0 && a.max().item<float>() <= 1);
        int changed = Enumerable.Range(0, 64).Count(i => !a[i].Same(x[i]));
        Assert.InRange(changed, 40, 64); // two ops per image; Identity/Color twice leaves ~2% unchanged
    }

    [Fact]
    public void ApplyCombinesInAFixedOrder()
    {
        using var x = Batch();
        using var labels = torch.zeros(16, ScalarType.Int64);
        var kinds = Augmentation.Parse("randaugment,crop,flip");
        var a = Augmentation.Apply(x, labels, kinds, new Random(2));
        var b = Augmentation.Apply(x, labels, kinds, new Random(2));
        Assert.True(a.Images.Same(b.Images));
        Assert.Null(a.MixLabels);
    }
}
