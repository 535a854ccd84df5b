using EquivarianceLab.Architectures;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Training;

public enum OptimizerKind { Adam, Sgd, AdamW }

/// <summary>
/// Optimizer and learning-rate schedule, applied per step as a function of training progress so that a run scaled down
/// to a few epochs keeps the paper's shape. Defaults by family (docs/training.md):
/// <list type="bullet">
/// <item>7-layer CNN (paper §4.3): Adam, lr 0.01, L2 5e-4, ÷10 at 25% and 50% of training.</item>
/// <item>ResNet / WRN (paper §4.4–4.5): SGD, lr 0.1, momentum 0.9, L2 1e-4, ÷10 at 50% and 75%.</item>
/// <item>ViT / MLP-Mixer: AdamW, lr 1e-3, weight decay 0.05, 10% linear warm-up then cosine decay.</item>
/// </list>
/// </summary>
public sealed record TrainingSchedule(
    OptimizerKind Optimizer,
    double LearningRate,
    double WeightDecay,
    double Momentum,
    IReadOnlyList<double> Milestones,
    double Gamma,
    double Warmup,
    bool Cosine)
{
    public static TrainingSchedule For(string architecture)
    {
        var info = ArchitectureRegistry.Info(architecture);
        return info.Name switch
        {
            "cnn7" => new(OptimizerKind.Adam, 0.01, 5e-4, 0, [0.25, 0.5], 0.1, 0, false),
            "vit-small" or "mixer-small" => new(OptimizerKind.AdamW, 1e-3, 0.05, 0, [], 1, 0.1, true),
            _ => new(OptimizerKind.Sgd, 0.1, 1e-4, 0.9, [0.5, 0.75], 0.1, 0, false),
        };
    }

    /// <summary>The learning rate at a fraction of training done, in [0, 1).</summary>
    public double LearningRateAt(double progress)
    {
        if (Cosine)
        {
            if (Warmup > 0 && progress < Warmup) return LearningRate * (progress + 1e-3) / Warmup;
            double p = Warmup >= 1 ? 1 : (progress - Warmup) / (1 - Warmup);
            return LearningRate * 0.5 * (1 + Math.Cos(Math.PI * Math.Clamp(p, 0, 1)));
        }
        double lr = LearningRate;
        foreach (var m in Milestones)
            if (progress >= m) lr *= Gamma;
        return lr;
    }

    public optim.Optimizer Create(IEnumerable<TorchSharp.Modules.Parameter> parameters) => Optimizer switch
    {
        OptimizerKind.Adam => optim.Adam(parameters, lr: LearningRate, weight_decay: WeightDecay),
        OptimizerKind.AdamW => optim.AdamW(parameters, lr: LearningRate, weight_decay: WeightDecay),
        _ => optim.SGD(parameters, LearningRate, momentum: Momentum, weight_decay: WeightDecay),
    };

    public string Describe()
    {
        var opt = Optimizer switch
        {
            OptimizerKind.Adam => FormattableString.Invariant($"Adam lr {LearningRate:G3}, L2 {WeightDecay:G3}"),
            OptimizerKind.AdamW => FormattableString.Invariant($"AdamW lr {LearningRate:G3}, weight decay {WeightDecay:G3}"),
            _ => FormattableString.Invariant($"SGD lr {LearningRate:G3}, momentum {Momentum:G3}, L2 {WeightDecay:G3}"),
        };
        static string Percent(double f) => (f * 100).ToString("0.#", System.Globalization.CultureInfo.InvariantCulture) + "%";
        var schedule = Cosine
            ? $"{Percent(Warmup)} warm-up then cosine decay"
            : Milestones.Count == 0 ? "constant" : $"lr x{Gamma.ToString("G3", System.Globalization.CultureInfo.InvariantCulture)} at {string.Join(" and ", Milestones.Select(Percent))} of training";
        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{opt}, {schedule}");
    }
}
