using EquivarianceLab.Cards;
using EquivarianceLab.Compute;
using EquivarianceLab.FeatureModels.Onnx;
using EquivarianceLab.Probes;

namespace EquivarianceLab.FeatureModels;

/// <summary>
/// Opens a model and a probe set together, each informed by the other: image probes are decoded to the model's
/// input size and preprocessing (from its card, else its fixed input dims); ONNX graphs with free dimensions are
/// laid out at the probe's size. Both the command line and the web app's jobs go through here.
/// </summary>
public static class MeasurementInputs
{
    /// <param name="limits">Limits on the probe set (default <see cref="ProbeLimits.Default"/>).</param>
    /// <param name="onnxLimits">Limits on an ONNX model (default <see cref="OnnxLimits.Default"/>).</param>
    /// <param name="logits">The layer that holds the logits when not the model's own (<see cref="ModelLoader.Load"/>).</param>
    /// <param name="device">Where the model runs (<see cref="ModelLoader.Load"/>).</param>
    public static (IFeatureModel Model, IProbeSet Probe) Open(string modelPath, string probePath, ModelCard? card = null,
        IReadOnlyList<string>? layers = null, ProbeLimits? limits = null, OnnxLimits? onnxLimits = null, string? logits = null,
        ComputeDevice device = ComputeDevice.Cpu)
    {
        card ??= CardFor(modelPath);
        ModelLoader.CheckExists(modelPath, card); // the model's problems first: they are the likelier ones
        CheckDevice(modelPath, card, device);
        var cardShape = CardShape(card);
        bool images = Directory.Exists(probePath) || probePath.EndsWith(".zip", StringComparison.OrdinalIgnoreCase);

        IFeatureModel? model = null;
        IProbeSet? probe = null;
        try
        {
            if (images && cardShape is null)
            {
                // The decode size comes from the model itself.
                model = ModelLoader.Load(modelPath, card, layers, onnxLimits: onnxLimits, logits: logits, device: device);
                var fixedShape = model.InputShape.All(d => d > 0) ? model.InputShape.ToArray() : null;
                probe = ProbeSetLoader.Open(probePath, Target(fixedShape, card), limits);
                if (fixedShape is null)
                {
                    model.Dispose();
                    model = null;
                    model = ModelLoader.Load(modelPath, card, layers, probe.ImageShape, onnxLimits, logits, device);
                }
            }
            else
            {
                probe = ProbeSetLoader.Open(probePath, Target(cardShape, card), limits);
                model = ModelLoader.Load(modelPath, card, layers, probe.ImageShape, onnxLimits, logits, device);
            }
            ProbeSetLoader.CheckFits(probe, model.InputShape, model.Name);
            return (model, probe);
        }
        catch
        {
            model?.Dispose();
            probe?.Dispose();
            throw;
        }
    }

    /// <summary>A device that cannot run this kind of model here fails before the probe set is read, not after.</summary>
    private static void CheckDevice(string modelPath, ModelCard? card, ComputeDevice device)
    {
        if (device == ComputeDevice.Cpu) return;
        var onnx = card?.Format == ModelLoader.OnnxFormat
                   || (!modelPath.StartsWith(ModelLoader.BuiltinPrefix, StringComparison.Ordinal)
                       && !modelPath.StartsWith(ModelLoader.ArchitecturePrefix, StringComparison.Ordinal)
                       && card?.Format != ModelLoader.BuiltinFormat
                       && Path.GetExtension(ModelLoader.Resolve(modelPath, ref card)).Equals(".onnx", StringComparison.OrdinalIgnoreCase));
        if (onnx) ComputeDevices.EnsureOnnxRuntime(device);
        else ComputeDevices.EnsureTorch(device);
    }

    /// <summary>The card's input [C, H, W] when it gives all three.</summary>
    public static long[]? CardShape(ModelCard? card) =>
        card?.InputShape is { Length: 3 } s && s.All(d => d > 0) ? s.Select(d => (long)d).ToArray() : null;

    /// <summary>The card of a model path (file, folder or zoo id), if it has one.</summary>
    public static ModelCard? CardFor(string modelPath)
    {
        if (modelPath.StartsWith(ModelLoader.BuiltinPrefix, StringComparison.Ordinal) ||
            modelPath.StartsWith(ModelLoader.ArchitecturePrefix, StringComparison.Ordinal)) return null;
        ModelCard? card = null;
        var resolved = ModelLoader.Resolve(modelPath, ref card);
        return card ?? (File.Exists(resolved) ? ModelCard.FindFor(resolved) : null);
    }

    private static ProbeTarget? Target(long[]? shape, ModelCard? card) =>
        shape is null ? null : new ProbeTarget((int)shape[0], (int)shape[1], (int)shape[2], card?.Preprocessing ?? new Preprocessing());
}
