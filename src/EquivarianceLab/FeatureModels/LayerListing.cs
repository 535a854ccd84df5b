using System.Globalization;
using EquivarianceLab.FeatureModels.Onnx;
using EquivarianceLab.Measure;
using static TorchSharp.torch;

namespace EquivarianceLab.FeatureModels;

/// <summary>
/// One measurable layer of a model (docs/models-and-probes.md, "Layer listing").
/// </summary>
/// <param name="Name">Graph tensor or hook point name: what <c>--layers</c> and a run's <c>layers</c> take.</param>
/// <param name="Shape">Per-image shape, without the batch dim.</param>
/// <param name="Op">The ONNX node type producing it; null for a hook point of a project architecture.</param>
/// <param name="Part">The part it gets under the default selection; null when not selected or in no part.</param>
/// <param name="Default">Whether the default selection measures it.</param>
public sealed record LayerInfo(string Name, IReadOnlyList<long> Shape, string? Op, string? Part, bool Default);

/// <summary>
/// Every measurable layer of a model with its shape, op and default part: what <c>eqlab measure --list-layers</c>
/// prints and <c>GET /api/models/{id}/layers</c> returns.
/// </summary>
public static class LayerListing
{
    /// <summary>Free input dims (a built-in control's H and W) are laid out at this size to find the shapes.</summary>
    private const long FreeSize = 32;

    /// <summary>
    /// The listing of a model opened without explicit layers. An ONNX graph lists every tensor whose shape the
    /// measure takes (spatial, vector or a token grid) at its probe shape; other models list their layers, with shapes
    /// from one forward pass of a blank image of <paramref name="inputShape"/> (else the model's input shape).
    /// </summary>
    public static IReadOnlyList<LayerInfo> Of(IFeatureModel model, IReadOnlyList<long>? inputShape = null)
    {
        IReadOnlyList<string> names, defaults;
        IReadOnlyDictionary<string, IReadOnlyList<long>> shapes;
        Func<string, string?> op;
        string? logits;
        if (model is OnnxFeatureModel onnx)
        {
            names = onnx.AvailableTensors;
            shapes = onnx.TensorShapes;
            defaults = onnx.DefaultLayers;
            logits = onnx.DefaultLogitsLayer;
            op = t => onnx.TensorOps.GetValueOrDefault(t);
        }
        else
        {
            names = defaults = model.Layers;
            shapes = ForwardShapes(model, inputShape ?? model.InputShape);
            logits = model.LogitsLayer;
            op = _ => null;
        }

        var kinds = new Dictionary<string, LayerKind>(StringComparer.Ordinal);
        foreach (var name in names)
            if (KindOf(shapes[name]) is { } kind) kinds[name] = kind;
        var chosen = defaults.Where(kinds.ContainsKey).ToList();
        var parts = EquivarianceMeasure.AssignParts(new Logits(logits), chosen.Select(n => (n, kinds[n])).ToList());
        var partOf = chosen.Select((n, i) => (n, parts[i])).ToDictionary(p => p.n, p => p.Item2, StringComparer.Ordinal);
        return names.Where(kinds.ContainsKey)
            .Select(n => new LayerInfo(n, shapes[n], op(n), partOf.GetValueOrDefault(n), partOf.ContainsKey(n)))
            .ToList();
    }

    /// <summary>The command line's text: a header, then one line per layer, <c>*</c> marking the default selection.</summary>
    public static string Format(string modelName, IReadOnlyList<LayerInfo> layers)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture);
        text.WriteLine($"# {modelName}: {layers.Count} measurable layers; * = default selection (name, shape, op, part)");
        foreach (var l in layers)
            text.WriteLine($"{(l.Default ? "*" : " ")} {l.Name}\t[{string.Join(",", l.Shape)}]\t{l.Op ?? "-"}\t{l.Part ?? "-"}");
        return text.ToString();
    }

    /// <summary>Spatial or vector as the measure would lay the shape out; null when it cannot measure it.</summary>
    private static LayerKind? KindOf(IReadOnlyList<long> shape)
    {
        try { return FeatureLayout.Of("", [1, .. shape]).Kind; }
        catch (EquivarianceLabException) { return null; }
    }

    private static Dictionary<string, IReadOnlyList<long>> ForwardShapes(IFeatureModel model, IReadOnlyList<long> inputShape)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var outputs = model.Forward(zeros([1, .. inputShape.Select(d => d > 0 ? d : FreeSize)]));
        return model.Layers.Select((n, i) => (n, (IReadOnlyList<long>)outputs[i].shape[1..]))
            .ToDictionary(p => p.n, p => p.Item2, StringComparer.Ordinal);
    }

    /// <summary>AssignParts reads only the logits name from the model.</summary>
    private sealed class Logits(string? name) : IFeatureModel
    {
        public string Name => "";
        public IReadOnlyList<long> InputShape => [];
        public IReadOnlyList<string> Layers => [];
        public string? LogitsLayer => name;
        public IReadOnlyList<Tensor> Forward(Tensor batch) => throw new NotSupportedException();
        public void Dispose() { }
    }
}
