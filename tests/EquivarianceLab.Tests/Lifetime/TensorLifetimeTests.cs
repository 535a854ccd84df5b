using System.Runtime.ExceptionServices;
using EquivarianceLab.Architectures;
using EquivarianceLab.Checkpoints;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;
using EquivarianceLab.Tests.Probes;
using EquivarianceLab.Tests.Training;
using EquivarianceLab.Training;
using TorchSharp;

namespace EquivarianceLab.Tests.Lifetime;

/// <summary>
/// The library leaves no tensor to TorchSharp's finalizer: every tensor it makes outside a dispose scope, it (or the
/// model that owns it) disposes. A finalized tensor can be one that libtorch is still reading — a temporary passed to
/// a native call has no managed reference left during that call — and freeing it then crashes the process (seen as a
/// segmentation fault in <c>CheckpointIO.LoadInto</c>: <c>target.copy_(source.to(dtype))</c>, whose converted copy
/// the collector finalized while <c>copy_</c> read it).
/// </summary>
/// <remarks>
/// TorchSharp counts, per thread, the tensors made and disposed outside any dispose scope and those detached from
/// one. Each body runs on a thread of its own, outside the per-test scope (<see cref="TensorScopePerTest"/>), from
/// opening or building a model to disposing it: what is made outside a scope (or detached) and not disposed by then
/// is left to the finalizer.
/// </remarks>
public class TensorLifetimeTests
{
    private const string FashionMnist = "fashion-mnist/t10k-images-idx3-ubyte.gz", Photos = "natural-photos/photos.zip";

    private sealed record Counts(long MadeOutside, long Detached, long Attached, long DisposedOutside)
    {
        public long LeftToFinalizer => MadeOutside + Detached - Attached - DisposedOutside;
    }

    private static Counts OnOwnThread(Action body)
    {
        Counts? counts = null;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            var s = DisposeScopeManager.Statistics;
            s.Reset();
            try { body(); }
            catch (Exception e) { error = e; }
            counts = new Counts(s.CreatedOutsideScopeCount, s.DetachedFromScopeCount, s.AttachedToScopeCount, s.DisposedOutsideScopeCount);
        });
        thread.Start();
        thread.Join();
        if (error is not null) ExceptionDispatchInfo.Throw(error);
        return counts!;
    }

    [Fact]
    public void The_count_sees_a_temporary_left_to_the_finalizer()
    {
        var counts = OnOwnThread(() =>
        {
            using var a = torch.ones(3);
            using var b = a.neg().abs(); // the negation is never disposed
        });
        Assert.Equal(1, counts.LeftToFinalizer);

        Assert.Equal(0, OnOwnThread(() =>
        {
            using var a = torch.ones(3);
            using var scope = torch.NewDisposeScope();
            _ = a.neg().abs();
        }).LeftToFinalizer);
    }

    [Fact]
    public void A_probe_set_in_memory_and_values_read_back_leave_nothing_to_the_finalizer()
    {
        var counts = OnOwnThread(() =>
        {
            // Integers: the set converts them to float32 and keeps the copy, and owns (disposes) what it was given.
            var images = torch.tensor(Enumerable.Range(0, 32).Select(i => (long)i).ToArray(), [2L, 1, 4, 4]);
            using var probe = new TensorProbeSet("counting", images);
            ProbeSetLoader.CheckFinite(probe);
            using var second = probe.ReadBatch(1, 1);
            Assert.Equal(Enumerable.Range(16, 16).Select(i => (float)i), second.data<float>().ToArray());
        });
        Assert.True(counts.LeftToFinalizer == 0, counts.ToString());
    }

    [Theory]
    [InlineData("cnn7-fmnist6", FashionMnist)]
    [InlineData("resnet20-fmnist", FashionMnist)]
    [InlineData("wrn16-1-fmnist", FashionMnist)]
    [InlineData("vit-small-fmnist", FashionMnist)]
    [InlineData("mixer-small-fmnist", FashionMnist)]
    [InlineData("control-rotation-equivariant", FashionMnist)]
    [InlineData("control-rotation-invariant", FashionMnist)]
    [InlineData("imagenet-resnet18", Photos)]
    public void Opening_listing_measuring_and_closing_a_zoo_model_leaves_nothing_to_the_finalizer(string id, string probe)
    {
        var models = RepositoryPaths.ModelsFolder!;
        var probePath = Path.Combine(models, "data", probe);
        var counts = OnOwnThread(() =>
        {
            var (model, probes) = MeasurementInputs.Open(Path.Combine(models, id), probePath);
            using (model)
            using (probes)
            {
                Assert.NotEmpty(LayerListing.Of(model));
                foreach (var options in new MeasureOptions[]
                         {
                             new() { Transform = TransformFamily.Rotation, Images = 6, BatchSize = 4 },
                             new() { Transform = TransformFamily.Translation, Images = 6, BatchSize = 4, MaxShift = 2 },
                             new() { Transform = TransformFamily.RotationContinuous, Angles = [30, 45], Images = 4, BatchSize = 4 },
                         })
                    Assert.Equal(options.Images, EquivarianceMeasure.Run(model, probes, options).Images);
            }
        });
        Assert.True(counts.LeftToFinalizer == 0, $"{id}: {counts}");
    }

    [Theory]
    [InlineData("cnn7")]
    [InlineData("resnet20")]
    [InlineData("wrn16")]
    [InlineData("vit-small")]
    [InlineData("mixer-small")]
    [InlineData("resnet18")]
    public void Building_training_saving_and_loading_a_model_leaves_nothing_to_the_finalizer(string architecture)
    {
        var data = TrainingData.Build(DataVariant.Fmnist6, FashionMnistSplit.Test, TrainingTestData.Images, TrainingTestData.Labels, limit: 48);
        var options = ArchitectureOptions.From(("inChannels", 1), ("classes", 6));
        using var folder = new TempFolder();
        var counts = OnOwnThread(() =>
        {
            using var model = ArchitectureRegistry.Create(architecture, options);
            var trained = Trainer.Train(model, data, new TrainingSettings
            {
                Epochs = 1,
                BatchSize = 24,
                Seed = 3,
                Augmentations = Augmentation.Parse("crop,flip,cutmix,randaugment"),
                Schedule = TrainingSchedule.For(architecture),
            });
            Assert.Equal(2, trained.Steps);
            _ = Evaluation.Accuracy(model, data);
            foreach (var file in new[] { "w.dat", "w.pt", "w.safetensors" })
            {
                var path = Path.Combine(folder.Path, file);
                CheckpointIO.Save(model, path);
                using var loaded = ArchitectureRegistry.Create(architecture, options);
                CheckpointIO.LoadInto(loaded, path);
            }
        });
        Assert.True(counts.LeftToFinalizer == 0, $"{architecture}: {counts}");
    }
}
