using EquivarianceLab.Probes;
using EquivarianceLab.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Training;

public class TrainingDataTests
{
    [Fact]
    public void Fmnist6KeepsSixClassesRelabelled()
    {
        Assert.Equal([0, 3, 6, 8], TrainingData.DroppedClasses);
        Assert.Equal([1, 2, 4, 5, 7, 9], TrainingData.KeptClasses);
        using var d = TrainingData.Build(DataVariant.Fmnist6, FashionMnistSplit.Test, TrainingTestData.Images, TrainingTestData.Labels);
        Assert.Equal(6000, d.Count); // the test set has 1000 images per class
        Assert.Equal(6, d.Classes);
        Assert.Equal("fmnist6/test", d.Name);
        var labels = d.Labels.data<long>().ToArray();
        Assert.Equal(Enumerable.Range(0, 6).Select(l => (long)l), labels.Distinct().Order());
        // The first kept image is the first test image whose class is kept, unrotated.
        int first = Array.FindIndex(TrainingTestData.Labels, l => TrainingData.KeptClasses.Contains(l));
        Assert.Equal(TrainingData.KeptClasses.ToList().IndexOf(TrainingTestData.Labels[first]), labels[0]);
        Assert.Equal(TrainingTestData.Images.Pixels.AsSpan(first * 784, 784).ToArray(), d.Images[0].flatten().data<byte>().ToArray());
    }

    [Theory]
    [InlineData(DataVariant.Fmnist6RotInv)]
    [InlineData(DataVariant.Fmnist6RotEq)]
    public void RotatedVariantsRotateEachImageByItsFixedMultipleOf90(DataVariant variant)
    {
        using var plain = TrainingData.Build(DataVariant.Fmnist6, FashionMnistSplit.Test, TrainingTestData.Images, TrainingTestData.Labels, limit: 200);
        using var rotated = TrainingData.Build(variant, FashionMnistSplit.Test, TrainingTestData.Images, TrainingTestData.Labels, limit: 200);
        Assert.Equal(variant == DataVariant.Fmnist6RotEq ? 24 : 6, rotated.Classes);
        var kept = Enumerable.Range(0, TrainingTestData.Labels.Length).Where(i => TrainingData.KeptClasses.Contains(TrainingTestData.Labels[i])).Take(200).ToArray();
        var ks = new int[4];
        for (int j = 0; j < kept.Length; j++)
        {
            int k = TrainingData.RotationOf(FashionMnistSplit.Test, kept[j]);
            ks[k]++;
            using var expected = torch.rot90(plain.Images[j], k, (1, 2)); // numpy rot90 over (H, W)
            Assert.True(expected.Same(rotated.Images[j]), $"image {j}, k {k}");
            long cls = plain.Labels[j].item<long>();
            Assert.Equal(variant == DataVariant.Fmnist6RotEq ? cls * 4 + k : cls, rotated.Labels[j].item<long>());
        }
        Assert.All(ks, c => Assert.InRange(c, 30, 70)); // every rotation is used, about equally
        Assert.Equal(variant == DataVariant.Fmnist6RotEq ? "fmnist6-rot-eq/test" : "fmnist6-rot-inv/test", rotated.Name);
    }

    [Fact]
    public void RotationsDifferBetweenSplitsButAreFixed()
    {
        var test = Enumerable.Range(0, 1000).Select(i => TrainingData.RotationOf(FashionMnistSplit.Test, i)).ToArray();
        var train = Enumerable.Range(0, 1000).Select(i => TrainingData.RotationOf(FashionMnistSplit.Train, i)).ToArray();
        Assert.NotEqual(test, train);
        Assert.Equal(test, Enumerable.Range(0, 1000).Select(i => TrainingData.RotationOf(FashionMnistSplit.Test, i)));
    }

    [Theory]
    [InlineData("fmnist", DataVariant.Fmnist)]
    [InlineData("FMNIST-6", DataVariant.Fmnist6)]
    [InlineData("fmnist6-rot-inv", DataVariant.Fmnist6RotInv)]
    [InlineData("fmnist6_roteq", DataVariant.Fmnist6RotEq)]
    public void VariantNamesParse(string name, DataVariant expected)
    {
        Assert.Equal(expected, TrainingData.Parse(name));
        var split = TrainingData.SplitName(expected, FashionMnistSplit.Test);
        Assert.Equal((expected, FashionMnistSplit.Test), TrainingData.ParseSplitName(split));
    }

    [Fact]
    public void UnknownVariantListsTheKnownOnes()
    {
        var e = Assert.Throws<EquivarianceLabException>(() => TrainingData.Parse("cifar10"));
        Assert.Contains("fmnist6-rot-eq", e.Message);
        Assert.Throws<EquivarianceLabException>(() => TrainingData.ParseSplitName("fmnist6"));
    }

    [Fact]
    public void RotationSimilarityChoosesGreedily()
    {
        var s = new double[10, 10];
        s[8, 8] = 0.5;            // class 8 is most like its own rotations
        s[1, 7] = s[7, 1] = 0.4;  // then 1 and 7 look like rotations of each other; 7 is also like 3
        s[7, 3] = s[3, 7] = 0.1;
        s[2, 2] = 0.3;
        s[5, 5] = 0.05;
        var (dropped, steps) = RotationSimilarity.Choose(s, 4);
        Assert.Equal([2, 5, 7, 8], dropped); // 8, then 7 (larger total than 1), then 2, then 5 (3–7 went with 7)
        Assert.Equal(4, steps.Count);
        Assert.Contains("Bag", steps[0]);
    }

    [Fact]
    public void RotationSimilarityOnTheShippedTestSet()
    {
        var r = RotationSimilarity.Compute(TrainingTestData.Images, TrainingTestData.Labels);
        Assert.Equal(4, r.Dropped.Count);
        Assert.Contains(8, r.Dropped); // Bag: its rotations look like shirts and boots
        Assert.InRange(r.UnrotatedNearestMeanAccuracy, 0.6, 0.8);
        for (int a = 0; a < 10; a++)
            for (int b = 0; b < 10; b++) Assert.Equal(r.MeanImage[a, b], r.MeanImage[b, a], 6); // rotations commute with Pearson
        Assert.Contains("Dropped:", r.Format());
    }
}
