using System.Diagnostics;
using EquivarianceLab.Probes;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Training;

/// <summary>How to train: epochs, batch size, seed, augmentations and schedule.</summary>
public sealed record TrainingSettings
{
    public int Epochs { get; init; } = 1;
    public int BatchSize { get; init; } = 128;
    public int Seed { get; init; }
    public IReadOnlyList<AugmentationKind> Augmentations { get; init; } = [];
    public required TrainingSchedule Schedule { get; init; }
    /// <summary>Stop after this many steps in total (for quick checks); null = all epochs.</summary>
    public int? MaxSteps { get; init; }
}

/// <summary>Progress after a training step: running means over the current epoch.</summary>
public sealed record TrainingProgress(int Epoch, int Epochs, int Batch, int Batches, double Loss, double Accuracy, double LearningRate, TimeSpan Elapsed);

/// <summary>What a training run did: the mean loss and accuracy (%) of each epoch and every step's loss.</summary>
public sealed record TrainingResult(IReadOnlyList<double> EpochLoss, IReadOnlyList<double> EpochAccuracy, IReadOnlyList<double> StepLoss, int Steps, int Images, TimeSpan Elapsed);

public static class Trainer
{
    /// <summary>
    /// Trains <paramref name="model"/> on <paramref name="data"/> with cross-entropy. Deterministic for a seed: the
    /// shuffle and every augmentation draw come from seeded <see cref="Random"/>s and <c>torch.manual_seed</c> is set first
    /// (build the model after seeding too, as <see cref="TrainingRun"/> does). A final batch of one image is dropped
    /// (batch norm needs two). The model is left in training mode.
    /// </summary>
    public static TrainingResult Train(nn.Module<Tensor, Tensor> model, LabeledImages data, TrainingSettings settings,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        if (settings.Epochs < 1) throw new EquivarianceLabException("Training needs at least one epoch.");
        if (settings.BatchSize < 2) throw new EquivarianceLabException("The batch size must be at least 2 (batch norm needs two images).");
        int n = data.Count;
        if (n < 2) throw new EquivarianceLabException($"{data.Name} has {n} images; training needs at least two.");
        torch.manual_seed(settings.Seed);
        var shuffleRng = new Random(settings.Seed);
        var augmentRng = new Random(unchecked(settings.Seed * 7919 + 17));
        int batches = n / settings.BatchSize + (n % settings.BatchSize >= 2 ? 1 : 0);
        int totalSteps = settings.Epochs * batches;
        if (settings.MaxSteps is int max) totalSteps = Math.Min(totalSteps, max);
        var optimizer = settings.Schedule.Create(model.parameters());
        var stopwatch = Stopwatch.StartNew();
        var epochLoss = new List<double>();
        var epochAccuracy = new List<double>();
        var stepLoss = new List<double>();
        int step = 0, images = 0;
        model.train();
        try
        {
            for (int epoch = 1; epoch <= settings.Epochs && step < totalSteps; epoch++)
            {
                var order = Enumerable.Range(0, n).ToArray();
                shuffleRng.Shuffle(order);
                double lossSum = 0, correctSum = 0;
                int seen = 0;
                for (int b = 0; b < batches && step < totalSteps; b++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    int start = b * settings.BatchSize, count = Math.Min(settings.BatchSize, n - start);
                    double lr = settings.Schedule.LearningRateAt((double)step / totalSteps);
                    foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
                    using var scope = torch.NewDisposeScope();
                    var index = torch.tensor(order.AsSpan(start, count).ToArray().Select(i => (long)i).ToArray());
                    var x = TrainingData.ToUnit(data.Images.index_select(0, index));
                    var y = data.Labels.index_select(0, index);
                    var batch = Augmentation.Apply(x, y, settings.Augmentations, augmentRng);
                    var logits = model.call(TrainingData.Normalize(batch.Images));
                    var loss = nn.functional.cross_entropy(logits, batch.Labels);
                    if (batch.MixLabels is not null)
                        loss = loss.Times(batch.MixWeight).Plus(nn.functional.cross_entropy(logits, batch.MixLabels).Times(1 - batch.MixWeight));
                    optimizer.zero_grad();
                    loss.backward();
                    optimizer.step();

                    double l = loss.item<float>();
                    if (double.IsNaN(l) || double.IsInfinity(l))
                        throw new EquivarianceLabException($"Training diverged at epoch {epoch}, step {b + 1} (loss {l}); try a smaller --lr.");
                    var predicted = logits.argmax(1);
                    double correct = predicted.eq(batch.Labels).sum().item<long>();
                    if (batch.MixLabels is not null)
                        correct = batch.MixWeight * correct + (1 - batch.MixWeight) * predicted.eq(batch.MixLabels).sum().item<long>();
                    lossSum += l * count;
                    correctSum += correct;
                    seen += count;
                    images += count;
                    stepLoss.Add(l);
                    step++;
                    progress?.Report(new TrainingProgress(epoch, settings.Epochs, b + 1, batches, lossSum / seen, 100.0 * correctSum / seen, lr, stopwatch.Elapsed));
                }
                epochLoss.Add(lossSum / Math.Max(1, seen));
                epochAccuracy.Add(100.0 * correctSum / Math.Max(1, seen));
            }
        }
        finally
        {
            optimizer.Dispose();
        }
        return new TrainingResult(epochLoss, epochAccuracy, stepLoss, step, images, stopwatch.Elapsed);
    }
}

public static class Evaluation
{
    /// <summary>
    /// Top-1 accuracy in percent of <paramref name="model"/> on <paramref name="data"/>, in eval mode without gradients.
    /// The pixels go through <paramref name="preprocessing"/> (default: the training normalisation), one channel.
    /// </summary>
    public static double Accuracy(nn.Module<Tensor, Tensor> model, LabeledImages data, Preprocessing? preprocessing = null, int batchSize = 500)
    {
        var pre = preprocessing ?? TrainingData.Preprocessing;
        if (pre.Mean.Length < 1 || pre.Std.Length < 1)
            throw new EquivarianceLabException("The preprocessing needs a mean and a standard deviation.");
        model.eval();
        using var _ = torch.no_grad();
        long correct = 0;
        for (int start = 0; start < data.Count; start += batchSize)
        {
            int count = Math.Min(batchSize, data.Count - start);
            using var scope = torch.NewDisposeScope();
            var x = data.Images.narrow(0, start, count).to_type(ScalarType.Float32).Times(pre.Scale).Minus(pre.Mean[0]).Over(pre.Std[0]);
            var logits = model.call(x);
            correct += logits.argmax(1).eq(data.Labels.narrow(0, start, count)).sum().item<long>();
        }
        return data.Count == 0 ? 0 : 100.0 * correct / data.Count;
    }
}
