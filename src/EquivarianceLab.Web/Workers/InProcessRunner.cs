using EquivarianceLab.Architectures;
using EquivarianceLab.Cards;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.FeatureModels.Onnx;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;

using EquivarianceLab.Web.Jobs;

namespace EquivarianceLab.Web.Workers;

/// <summary>
/// The library called directly: model loading, probe sets, the measure. It runs untrusted files, so the app uses it
/// only inside a worker process (<see cref="WorkerHost"/>); the web process goes through <see cref="WorkerRunner"/>.
/// </summary>
public sealed class InProcessRunner(ProbeLimits limits) : IMeasurementRunner
{
    /// <summary>Thumbnails of image archives: images are scaled to cover this square and centre-cropped.</summary>
    private const int ThumbnailSize = 64;

    private ProbeLimits Limits => limits;

    public IReadOnlyList<string> Architectures => ArchitectureRegistry.Names;

    /// <summary>An upload is opened under the library's ONNX limits, and may not reach files beside it (external data).</summary>
    private static readonly OnnxLimits UploadLimits = OnnxLimits.Default with { AllowExternalData = false };

    public ModelInspection InspectModel(string path, ModelCard card)
    {
        // Laid out at the card's input size, as the measure will be: an ONNX graph's shapes (and so its default layers) follow it.
        var shape = MeasurementInputs.CardShape(card);
        using var model = ModelLoader.Load(path, card, probeShape: shape, onnxLimits: UploadLimits);
        return new ModelInspection(model.InputShape.ToArray(), model.Layers.Count, model.LogitsLayer, LayerListing.Of(model, shape));
    }

    public ProbeInspection InspectProbeSet(string path, int samples)
    {
        if (!IsImageArchive(path))
        {
            using var probe = ProbeSetLoader.Open(path, null, Limits);
            // One streaming pass: a NaN or infinity anywhere is refused now, naming the image, not found mid-run.
            ProbeSetLoader.CheckFinite(probe);
            var shape = probe.ImageShape.ToArray();
            return new ProbeInspection(probe.Count, shape, ReadSamples(probe, samples), shape);
        }
        // Opened without a target first: every entry is checked (name, size limits, PNG/JPEG header) and all images
        // must share one size, which becomes the set's shape. Nothing is decoded at full size.
        int count;
        long[] imageShape;
        using (var plain = ProbeSetLoader.Open(path, null, Limits))
        {
            count = plain.Count;
            imageShape = plain.ImageShape.ToArray();
        }
        using var small = ProbeSetLoader.Open(path, new ProbeTarget(3, ThumbnailSize, ThumbnailSize, new Preprocessing()), Limits);
        return new ProbeInspection(count, imageShape, ReadSamples(small, samples), [3, ThumbnailSize, ThumbnailSize]);
    }

    private static List<float[]> ReadSamples(IProbeSet probe, int samples)
    {
        var n = Math.Min(samples, probe.Count);
        var images = new List<float[]>(n);
        if (n == 0) return images;
        using var batch = probe.ReadBatch(0, n);
        var per = (int)(batch.numel() / n);
        var all = batch.contiguous().data<float>().ToArray();
        for (var i = 0; i < n; i++) images.Add(all.AsSpan(i * per, per).ToArray());
        return images;
    }

    public MeasurementResult Measure(string modelPath, ModelCard card, string probePath, MeasureOptions measureOptions, LayerChoice? layers,
        IProgress<MeasureProgress> progress, CancellationToken cancellationToken)
    {
        var (model, probe) = Open(modelPath, card, probePath, layers, measureOptions.Device);
        using (model)
        using (probe)
            return EquivarianceMeasure.Run(model, probe, measureOptions, progress, cancellationToken);
    }

    public FeatureMapPair FeatureMaps(string modelPath, ModelCard card, string probePath, MeasureOptions measureOptions, FeatureMapRequest request,
        CancellationToken cancellationToken)
    {
        var (model, probe) = Open(modelPath, card, probePath, new LayerChoice([request.Layer], null), measureOptions.Device);
        using (model)
        using (probe)
            return EquivarianceLab.Measure.FeatureMaps.Compute(model, probe, request, measureOptions);
    }

    /// <summary>The model (its <paramref name="layers"/>, at the card's input size) and the probe set decoded to its input, as a measurement sees them.</summary>
    private (IFeatureModel Model, IProbeSet Probe) Open(string modelPath, ModelCard card, string probePath, LayerChoice? layers, Compute.ComputeDevice device)
    {
        var model = ModelLoader.Load(modelPath, card, layers?.Layers, MeasurementInputs.CardShape(card), logits: layers?.Logits, device: device);
        try
        {
            var target = card.InputShape.Length == 3
                ? new ProbeTarget(card.InputShape[0], card.InputShape[1], card.InputShape[2], card.Preprocessing)
                : null;
            var probe = ProbeSetLoader.Open(probePath, target, Limits);
            try
            {
                ProbeSetLoader.CheckFits(probe, model.InputShape);
                return (model, probe);
            }
            catch
            {
                probe.Dispose();
                throw;
            }
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    internal static bool IsImageArchive(string path) => path.EndsWith(".zip", StringComparison.OrdinalIgnoreCase) || Directory.Exists(path);
}
