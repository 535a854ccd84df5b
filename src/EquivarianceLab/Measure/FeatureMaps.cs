using EquivarianceLab.Compute;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Probes;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Measure;

/// <summary>
/// Which feature maps to show (docs/dashboard.md, "Feature maps"): probe image <paramref name="Image"/>, channel
/// <paramref name="Channel"/> of spatial layer <paramref name="Layer"/>, under the transform whose key is
/// <paramref name="Transform"/> (rot90, shift3, flip, …); <paramref name="Partner"/> fixes c′ instead of the best one.
/// </summary>
public sealed record FeatureMapRequest(int Image, string Layer, int Channel, string Transform, int? Partner = null);

/// <summary>
/// One image's f(gX)_c (<see cref="Moved"/>) beside g·f(X)_c′ (<see cref="Reference"/>), each an h×w grid in row-major
/// order, in the layer's canonical layout (token layers as their grid). <see cref="Similarity"/> is S(c, c′) and
/// <see cref="SelfSimilarity"/> S(c, c), as the measure computes them for this image; null where a channel is degenerate.
/// </summary>
public sealed record FeatureMapPair
{
    public required int Image { get; init; }
    public required string Layer { get; init; }
    public required int Channel { get; init; }
    public required string Transform { get; init; }
    /// <summary>c′: the caller's, or this image's best partner of <see cref="Channel"/> (c itself when c or every c′ is degenerate).</summary>
    public required int Partner { get; init; }
    public required int Height { get; init; }
    public required int Width { get; init; }
    public required float[] Moved { get; init; }
    public required float[] Reference { get; init; }
    public double? Similarity { get; init; }
    public double? SelfSimilarity { get; init; }
}

/// <summary>How many channels a spatial layer has and the size of its grid (per image).</summary>
public sealed record FeatureGrid(int Channels, int Height, int Width);

/// <summary>
/// The measure's numbers made visible for one image (docs/measure.md, "Similarity"): for channel c of a spatial layer
/// and one transform g, f(gX)_c and g·f(X)_c′, where c′ maximises S(g⁻¹·f(gX)_c, f(X)_c′) over the valid channels
/// — the term this image adds to the layer's equivariance — and S(c, c), its term of the invariance.
/// </summary>
public static class FeatureMaps
{
    /// <summary>
    /// The channels and grid of a layer from its shape per image (as a result records it: <c>[C, h, w]</c> or tokens
    /// <c>[T, D]</c>). A vector layer has no maps: <see cref="EquivarianceLabException"/> saying so.
    /// </summary>
    public static FeatureGrid GridOf(string layer, IReadOnlyList<long> shape)
    {
        long[] batch = [1, .. shape];
        var layout = FeatureLayout.Of(layer, batch);
        if (layout.Kind != LayerKind.Spatial)
            throw new EquivarianceLabException(
                $"Layer '{layer}' is a vector layer ({string.Join("×", shape)} per image): feature maps exist for spatial layers only.");
        if (shape.Count == 3) return new FeatureGrid(Int(shape[0]), Int(shape[1]), Int(shape[2]));
        var side = Int((long)Math.Round(Math.Sqrt(shape[0] - layout.PrefixTokens)));
        return new FeatureGrid(Int(shape[1]), side, side);
    }

    /// <summary>
    /// Computes <paramref name="request"/> on <paramref name="probe"/> with the run's <paramref name="options"/>
    /// (transform family, maxShift, similarity). Every wrong part of the request is an
    /// <see cref="EquivarianceLabException"/> naming it.
    /// </summary>
    public static FeatureMapPair Compute(IFeatureModel model, IProbeSet probe, FeatureMapRequest request, MeasureOptions options)
    {
        var family = SpatialTransform.Family(options);
        var g = family.FirstOrDefault(t => t.Key == request.Transform)
                ?? throw new EquivarianceLabException(
                    $"Unknown transform '{request.Transform}' for {MeasureNames.Name(options.Transform)}: use {string.Join(", ", family.Select(t => t.Key))}.");
        if (request.Image < 0 || request.Image >= probe.Count)
            throw new EquivarianceLabException($"Image {request.Image} is out of range: probe set {probe.Name} has {probe.Count} images (0…{probe.Count - 1}).");
        var layer = IndexOf(model, request.Layer);
        ProbeSetLoader.CheckFits(probe, model.InputShape, model.Name);
        EquivarianceMeasure.CheckTransformFits(probe, options);
        long inputH = probe.ImageShape[1], inputW = probe.ImageShape[2];

        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var x = probe.ReadBatch(request.Image, 1);
        FiniteValues.Check(x, request.Image, probe.Name);
        if (model.Device != ComputeDevice.Cpu) x = x.to(model.Device.ToTorch());
        var plain = Canonical(request.Layer, model.Forward(x)[layer]);
        var moved = Canonical(request.Layer, model.Forward(g.ApplyToInput(x))[layer]);
        long channels = plain.shape[1], h = plain.shape[2], w = plain.shape[3];
        CheckChannel("Channel", request.Channel, request.Layer, channels);
        if (request.Partner is { } asked) CheckChannel("Partner channel", asked, request.Layer, channels);

        // As the measure compares them: a permutation g moves f(gX) back (S(f(gX)_c, g·f(X)_c′) = S(g⁻¹·f(gX)_c,
        // f(X)_c′)); a resampled g moves f(X) forward and both sides keep the valid region only (ResampledComparison).
        Tensor sideA, sideB;
        if (g is ResampledTransform resampled)
        {
            var index = tensor(resampled.ValidPositions(h, w, inputH, inputW));
            sideA = moved.reshape(1, channels, -1).index_select(2, index);
            sideB = g.ApplyToFeature(plain, inputH, inputW).reshape(1, channels, -1).index_select(2, index);
        }
        else
        {
            sideA = g.ApplyInverseToFeature(moved, inputH, inputW).reshape(1, channels, -1);
            sideB = plain.reshape(1, channels, -1).clone();
        }
        var (unitA, validA) = Similarity.NormalizeInPlace(sideA, options.Similarity);
        var (unitB, validB) = Similarity.NormalizeInPlace(sideB, options.Similarity);
        var sims = TensorMemory.ToArray<float>(unitB[0].mv(unitA[0, request.Channel]));
        var valid = TensorMemory.ToArray<bool>(validB[0]);
        var movedValid = TensorMemory.ToArray<bool>(validA[0])[request.Channel];

        // A degenerate f(gX)_c has no similarity to anything: it is shown beside its own channel.
        int partner = request.Partner ?? (movedValid ? BestPartner(sims, valid) : null) ?? request.Channel;
        double? S(int c) => movedValid && valid[c] ? Math.Clamp(sims[c], -1.0, 1.0) : null;
        return new FeatureMapPair
        {
            Image = request.Image,
            Layer = request.Layer,
            Channel = request.Channel,
            Transform = g.Key,
            Partner = partner,
            Height = Int(h),
            Width = Int(w),
            Moved = TensorMemory.ToArray<float>(moved[0, request.Channel]),
            Reference = TensorMemory.ToArray<float>(g.ApplyToFeature(plain, inputH, inputW)[0, partner]),
            Similarity = S(partner),
            SelfSimilarity = S(request.Channel),
        };
    }

    /// <summary>The first valid c′ with the largest S (the value the measure takes the max of); null when none is valid.</summary>
    private static int? BestPartner(float[] sims, bool[] valid)
    {
        int? best = null;
        for (int c = 0; c < sims.Length; c++)
            if (valid[c] && (best is null || sims[c] > sims[best.Value])) best = c;
        return best;
    }

    private static int IndexOf(IFeatureModel model, string layer)
    {
        for (int l = 0; l < model.Layers.Count; l++)
            if (model.Layers[l] == layer) return l;
        throw new EquivarianceLabException($"Model {model.Name} has no layer '{layer}' among its layers ({string.Join(", ", model.Layers)}).");
    }

    /// <summary>The layer's one image as float32 <c>[1, C, h, w]</c> on the CPU; a vector layer is refused.</summary>
    private static Tensor Canonical(string layer, Tensor raw)
    {
        var layout = FeatureLayout.Of(layer, raw.shape);
        if (layout.Kind != LayerKind.Spatial) GridOf(layer, raw.shape[1..]); // throws, saying why
        return layout.Canonical(raw).to(ScalarType.Float32, CPU).contiguous();
    }

    private static void CheckChannel(string what, int channel, string layer, long channels)
    {
        if (channel < 0 || channel >= channels)
            throw new EquivarianceLabException($"{what} {channel} is out of range: layer '{layer}' has {channels} channels (0…{channels - 1}).");
    }

    private static int Int(long value) => checked((int)value);
}
