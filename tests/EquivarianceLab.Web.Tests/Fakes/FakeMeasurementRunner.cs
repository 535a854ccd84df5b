using EquivarianceLab.Cards;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Runs;

namespace EquivarianceLab.Web.Tests.Fakes;

/// <summary>
/// Stands in for the library in tests of the web layer: deterministic synthetic results, real progress reports,
/// cooperative cancellation.
/// </summary>
public sealed class FakeMeasurementRunner : IMeasurementRunner
{
    /// <summary>Per-batch delay, so tests can watch progress and cancel.</summary>
    public TimeSpan BatchDelay { get; set; } = TimeSpan.FromMilliseconds(20);
    public Func<string, Exception?> FailFor { get; set; } = _ => null;
    public int Measured;

    public ModelInspection InspectModel(string path, ModelCard card)
    {
        var head = File.ReadAllBytes(path).Take(4).ToArray();
        if (head.Length < 4 || head[0] != 0x08) throw new EquivarianceLabException($"{Path.GetFileName(path)} is not an ONNX model (no ModelProto header).");
        return new ModelInspection([1, 28, 28], 8, "logits", Listing);
    }

    /// <summary>The layers of every fake model: those of <see cref="Synthetic"/>, selected by default, and a flatten that is not.</summary>
    public static readonly IReadOnlyList<LayerInfo> Listing =
    [
        .. Enumerable.Range(1, 6).Select(i => new LayerInfo($"conv{i}", [8, 28, 28], "Relu", Parts.All[3 * (i - 1) / 6], true)),
        new LayerInfo("pool", [8, 1, 1], "GlobalAveragePool", Parts.Pool, true),
        new LayerInfo("flat", [8], "Flatten", null, false),
        new LayerInfo("logits", [10], "Gemm", Parts.Final, true),
    ];

    public ProbeInspection InspectProbeSet(string path, int samples) =>
        new(10, [1, 28, 28], Enumerable.Range(0, Math.Min(samples, 10)).Select(i => Enumerable.Range(0, 784).Select(j => (float)((i + j) % 28) / 28f).ToArray()).ToList(), [1, 28, 28]);

    public IReadOnlyList<string> Architectures { get; } = ["cnn7", "resnet20"];

    public MeasurementResult Measure(string modelPath, ModelCard card, string probePath, MeasureOptions options, LayerChoice? layers,
        IProgress<MeasureProgress> progress, CancellationToken cancellationToken)
    {
        if (FailFor(card.Id) is { } e) throw e;
        var total = options.Images ?? 100;
        for (var done = 0; done < total;)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Thread.Sleep(BatchDelay);
            done = Math.Min(total, done + 32);
            progress.Report(new MeasureProgress(done, total, 1000, TimeSpan.FromSeconds((total - done) / 1000.0)));
        }
        Interlocked.Increment(ref Measured);
        return Synthetic(card.Id, "fashion-mnist-test", options, seed: card.Id.Length);
    }

    /// <summary>How many feature-map requests reached the fake library.</summary>
    public int FeatureMapsComputed;

    /// <summary>The bytes of the model file the last feature-map request was given.</summary>
    public byte[]? FeatureMapModelBytes { get; private set; }

    /// <summary>Feature maps on the 28×28 grid of the synthetic conv layers: c′ = c + 1 (mod 8) unless asked, S(c, c′) = 0.9, S(c, c) = 0.5.</summary>
    public FeatureMapPair FeatureMaps(string modelPath, ModelCard card, string probePath, MeasureOptions options, FeatureMapRequest request,
        CancellationToken cancellationToken)
    {
        if (FailFor(card.Id) is { } e) throw e;
        Interlocked.Increment(ref FeatureMapsComputed);
        FeatureMapModelBytes = File.Exists(modelPath) ? File.ReadAllBytes(modelPath) : null; // component tests name no real file
        var partner = request.Partner ?? (request.Channel + 1) % 8;
        float[] Grid(int c) => Enumerable.Range(0, 28 * 28).Select(i => (float)Math.Sin(i * 0.1 + c + request.Image)).ToArray();
        return new FeatureMapPair
        {
            Image = request.Image, Layer = request.Layer, Channel = request.Channel, Transform = request.Transform, Partner = partner,
            Height = 28, Width = 28, Moved = Grid(request.Channel), Reference = Grid(partner), Similarity = 0.9, SelfSimilarity = 0.5,
        };
    }

    /// <summary>A plausible result: six spatial layers (two per part), a pool and a logits layer.</summary>
    public static MeasurementResult Synthetic(string model, string probe, MeasureOptions options, int seed = 0)
    {
        var keys = SpatialTransform.Family(options.Transform, options.MaxShift).Select(t => t.Key).ToList();
        var names = new[] { "conv1", "conv2", "conv3", "conv4", "conv5", "conv6", "pool", "logits" };
        var layers = new List<LayerResult>();
        for (var i = 0; i < names.Length; i++)
        {
            var part = i < 6 ? Parts.All[3 * i / 6] : i == 6 ? Parts.Pool : Parts.Final;
            var per = keys.Select((k, j) => (k, new Score(0.2 + 0.05 * i + 0.01 * seed - 0.01 * j, 0.5 + 0.05 * i - 0.01 * j))).ToDictionary(p => p.k, p => p.Item2);
            layers.Add(new LayerResult
            {
                Name = names[i], Index = i, Part = part, Shape = i < 6 ? [8, 28, 28] : [10],
                Invariance = per.Values.Average(s => s.Invariance), Equivariance = per.Values.Average(s => s.Equivariance), PerTransform = per,
            });
        }
        var parts = layers.GroupBy(l => l.Part!).ToDictionary(g => g.Key,
            g => new PartScore(g.Average(l => l.Invariance), g.Average(l => l.Equivariance), g.Count()));
        return new MeasurementResult
        {
            Model = model, Probe = probe, Transform = MeasureNames.Name(options.Transform), Similarity = MeasureNames.Name(options.Similarity),
            Images = options.Images ?? 100, MaxShift = options.MaxShift, Layers = layers, Parts = parts, Timing = new Timing(1.5, 1.0),
        };
    }
}
