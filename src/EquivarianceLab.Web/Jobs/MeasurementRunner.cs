using EquivarianceLab.Cards;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;

namespace EquivarianceLab.Web.Jobs;

/// <summary>The real adapter: calls the library's loaders, the measure and Spearman.</summary>
public sealed class MeasurementRunner : IMeasurementRunner
{
    public ModelInspection InspectModel(string path, ModelCard card)
    {
        using var model = ModelLoader.Load(path, card);
        return new ModelInspection(model.InputShape.ToArray(), model.Layers.Count, model.LogitsLayer);
    }

    public ProbeInspection InspectProbeSet(string path, int samples)
    {
        // Image archives are decoded to a target size; 3×64×64 in [0, 1] is enough to check and show them.
        ProbeTarget? target = IsImageArchive(path) ? new ProbeTarget(3, 64, 64, new Preprocessing()) : null;
        using var probe = ProbeSetLoader.Open(path, target);
        var n = Math.Min(samples, probe.Count);
        var images = new List<float[]>(n);
        if (n > 0)
        {
            using var batch = probe.ReadBatch(0, n);
            var per = (int)(batch.numel() / n);
            var all = batch.contiguous().data<float>().ToArray();
            for (var i = 0; i < n; i++) images.Add(all.AsSpan(i * per, per).ToArray());
        }
        return new ProbeInspection(probe.Count, IsImageArchive(path) ? [] : probe.ImageShape.ToArray(), images);
    }

    public MeasurementResult Measure(string modelPath, ModelCard card, string probePath, MeasureOptions options,
        IProgress<MeasureProgress> progress, CancellationToken cancellationToken)
    {
        using var model = ModelLoader.Load(modelPath, card);
        var target = card.InputShape.Length == 3
            ? new ProbeTarget(card.InputShape[0], card.InputShape[1], card.InputShape[2], card.Preprocessing)
            : null;
        using var probe = ProbeSetLoader.Open(probePath, target);
        ProbeSetLoader.CheckFits(probe, model.InputShape);
        return EquivarianceMeasure.Run(model, probe, options, progress, cancellationToken);
    }

    public Correlation Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        var r = EquivarianceLab.Statistics.Spearman.Compute(x, y);
        return new Correlation(r.Rho, r.N, r.PValue, r.Reason);
    }

    internal static bool IsImageArchive(string path) => path.EndsWith(".zip", StringComparison.OrdinalIgnoreCase) || Directory.Exists(path);
}
