using EquivarianceLab.FeatureModels.Onnx;

namespace EquivarianceLab.Tests.Onnx;

/// <summary>Resident memory says something only while no other test runs, so this collection runs alone.</summary>
[CollectionDefinition(nameof(OnnxMemoryTests), DisableParallelization = true)]
public sealed class OnnxMemoryTestsCollection;

[Collection(nameof(OnnxMemoryTests))]
public class OnnxMemoryTests
{
    [Fact]
    public void Repeated_forward_passes_do_not_grow_native_memory()
    {
        using var dir = new OnnxTempFolder();
        using var model = OnnxFeatureModel.Load(dir.Save(OnnxTestGraphs.ResidualCnn("N")));
        using var images = OnnxTestGraphs.Images(64, 3, 8, 8);
        void Run(int times)
        {
            for (var i = 0; i < times; i++)
                using (new Features(model.Forward(images))) { }
        }

        Run(200); // warm up ONNX Runtime's arena and the allocator
        var before = CurrentRss();
        Run(1000);
        var grown = CurrentRss() - before;
        // Leaking one call's outputs (≈ 280 KB: four [64,4,8,8] layers and more) would add ≈ 280 MB.
        Assert.True(grown < 40L << 20, $"resident memory grew by {grown >> 20} MB over 1000 forward passes");
    }

    private static long CurrentRss()
    {
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        return process.WorkingSet64;
    }
}
