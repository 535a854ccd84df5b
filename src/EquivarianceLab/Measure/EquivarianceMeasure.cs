using System.Diagnostics;
using System.Runtime.InteropServices;
using EquivarianceLab.Compute;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Probes;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Measure;

/// <summary>
/// The paper's layer-wise invariance and equivariance measure, as docs/measure.md defines it. It streams over the
/// probe set batch by batch: spatial layers keep only running sums; vector layers keep their N×C values (one score
/// per channel needs every image). For the standard errors, spatial layers also keep a few doubles per image and
/// transform (docs/measure.md, "Uncertainty"). Runs without gradients and disposes each batch's native tensors before the next.
/// </summary>
public static class EquivarianceMeasure
{
    public static MeasurementResult Run(IFeatureModel model, IProbeSet probe, MeasureOptions options,
        IProgress<MeasureProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var total = Stopwatch.StartNew();
        var transforms = SpatialTransform.Family(options);
        if (options.BatchSize < 1) throw new EquivarianceLabException($"--batch must be at least 1 (got {options.BatchSize}).");
        if (options.Images is < 1) throw new EquivarianceLabException($"--images must be at least 1 (got {options.Images}).");
        int images = Math.Min(probe.Count, options.Images ?? MeasureOptions.DefaultMaxImages);
        if (images < 1) throw new EquivarianceLabException($"Probe set {probe.Name} has no images.");
        ProbeSetLoader.CheckFits(probe, model.InputShape, model.Name);
        CheckTransformFits(probe, options);
        long inputH = probe.ImageShape[1], inputW = probe.ImageShape[2];
        bool resampled = ContinuousFamilies.IsContinuous(options.Transform);

        var layers = model.Layers;
        var states = new LayerState[layers.Count];
        double forwardSeconds = 0;
        var forwardClock = new Stopwatch();

        using var noGrad = no_grad();
        // f(X) lives for its batch, each f(gX) for its transform: two sets of layer tensors serve the whole run.
        using var plainBuffers = new FeatureBuffers();
        using var movedBuffers = new FeatureBuffers();
        var heap = new HeapTrimmer();
        try
        {
            for (int start = 0; start < images; start += options.BatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int count = Math.Min(options.BatchSize, images - start);
                using var scope = NewDisposeScope();
                var x = probe.ReadBatch(start, count);
                // Cheap next to the forward passes; a NaN image would otherwise turn into silent null scores.
                FiniteValues.Check(x, start, probe.Name);
                // Once per batch to where the model keeps its tensors: the transforms and similarities then run there too.
                if (model.Device != ComputeDevice.Cpu) x = x.to(model.Device.ToTorch());

                forwardClock.Restart();
                var plain = model.Forward(x, plainBuffers);
                forwardSeconds += forwardClock.Elapsed.TotalSeconds;
                if (plain.Count != layers.Count)
                    throw new InvalidOperationException($"Model {model.Name} returned {plain.Count} tensors for {layers.Count} layers.");

                // Normalise f(X) once per batch; every g compares against it.
                var reference = new (Tensor Unit, Tensor Valid)[layers.Count];
                var packed = new SimilarityKernel.Reference?[layers.Count];
                var toPack = new List<(SimilarityKernel.Reference, Tensor)>();
                for (int l = 0; l < layers.Count; l++)
                {
                    states[l] ??= LayerState.Create(layers[l], plain[l], transforms.Count, images, options.Matching);
                    var canonical = states[l].Layout.Canonical(plain[l]);
                    if (states[l].Layout.Kind == LayerKind.Spatial)
                    {
                        if (resampled) continue; // each g resamples f(X) itself (ResampledComparison)
                        if (UsesKernel(canonical))
                        {
                            var packedReference = states[l].PackedReference;
                            packed[l] = packedReference;
                            toPack.Add((packedReference, Flatten(canonical)));
                        }
                        else
                            reference[l] = Similarity.Normalize(Flatten(canonical.to_type(ScalarType.Float32)), options.Similarity); // a copy: f(X) may share memory with the input
                    }
                    else
                    {
                        states[l].AppendReference(canonical);
                    }
                }
                // All layers in one parallel loop (and below, one per transform): each loop wakes the measure's threads.
                SimilarityKernel.Reference.FillAll(toPack, options.Similarity);

                for (int t = 0; t < transforms.Count; t++)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    using var inner = NewDisposeScope();
                    var g = transforms[t];
                    var gx = g.ApplyToInput(x);
                    forwardClock.Restart();
                    var moved = model.Forward(gx, movedBuffers);
                    forwardSeconds += forwardClock.Elapsed.TotalSeconds;
                    var comparisons = new List<SimilarityKernel.Comparison>();
                    var kernelLayers = new List<LayerState>();
                    for (int l = 0; l < layers.Count; l++)
                    {
                        var state = states[l];
                        var a = state.Layout.Canonical(moved[l]);
                        if (state.Layout.Kind == LayerKind.Vector)
                        {
                            state.AppendMoved(t, a);
                            continue;
                        }
                        if (g is ResampledTransform resampling)
                        {
                            ResampledComparison.Accumulate(a, state.Layout.Canonical(plain[l]), resampling, inputH, inputW, options.Similarity, state.Scores[t], state.Choices);
                            state.AddChoices(t);
                            continue;
                        }
                        // S(f(gX)_c, g·f(X)_c′) = S(g⁻¹·f(gX)_c, f(X)_c′): g only permutes positions. Moving f(gX) back
                        // makes the one copy the normalisation needs anyway, and the reference is normalised once per batch.
                        // The kernel does both while it normalises f(gX) into its scratch block, for all layers at once below.
                        if (packed[l] is { } packedReference)
                        {
                            var inverse = state.InverseOf(t, g, a.shape[^2], a.shape[^1], inputH, inputW);
                            comparisons.Add(new(Flatten(a), inverse, packedReference, state.Scores[t], state.Choices));
                            kernelLayers.Add(state);
                            continue;
                        }
                        var back = g.ApplyInverseToFeature(a.to_type(ScalarType.Float32), inputH, inputW);
                        var (unitA, validA) = Similarity.NormalizeInPlace(Flatten(back), options.Similarity);
                        var (unitB, refValid) = reference[l];
                        Similarity.Accumulate(unitA, validA, unitB, refValid, state.Scores[t], state.Choices)?.Dispose();
                        state.AddChoices(t);
                    }
                    SimilarityKernel.Accumulate(comparisons);
                    LayerState.AddChoices(kernelLayers, t);
                }

                int done = start + count;
                heap.AfterBatch();
                double rate = done / Math.Max(1e-9, total.Elapsed.TotalSeconds);
                progress?.Report(new MeasureProgress(done, images, rate,
                    done < images ? TimeSpan.FromSeconds((images - done) / rate) : TimeSpan.Zero));
            }

            // The layers' buffers are not needed any more: their memory can serve the vector layers' scoring.
            plainBuffers.Dispose();
            movedBuffers.Dispose();
            // Vector layers: one vector per channel, running over all N images. The spatial layers' packed references
            // are idle now: the largest one's arrays serve the vector layers' reference, so its memory need not grow with N.
            var spare = states.Where(s => s.HasPackedReference).Select(s => s.PackedReference).MaxBy(r => r.Capacity);
            foreach (var state in states)
                if (state.Layout.Kind == LayerKind.Vector) state.ScoreVectors(options.Similarity, spare);
        }
        finally
        {
            // Vector layers keep native tensors across batches.
            foreach (var state in states) state?.Dispose();
        }

        var (results, influences) = BuildLayers(model, states, transforms);
        // The run has succeeded and nothing refers to its working arrays any more: the process's next one reuses them.
        foreach (var state in states) state.Recycle();
        return new MeasurementResult
        {
            Model = model.Name,
            Probe = probe.Name,
            Transform = MeasureNames.Name(options.Transform),
            Similarity = MeasureNames.Name(options.Similarity),
            Images = images,
            MaxShift = options.MaxShift,
            Angles = ContinuousFamilies.ResultAngles(options),
            Shifts = ContinuousFamilies.ResultShifts(options),
            Layers = results,
            Parts = AggregateParts(results, influences),
            Timing = new Timing(total.Elapsed.TotalSeconds, forwardSeconds),
        };
    }

    /// <summary>Rotations need square probe images; a translation's maxShift must fit them.</summary>
    internal static void CheckTransformFits(IProbeSet probe, MeasureOptions options)
    {
        long inputH = probe.ImageShape[1], inputW = probe.ImageShape[2];
        if (options.Transform is TransformFamily.Rotation or TransformFamily.RotationContinuous && inputH != inputW)
            throw new EquivarianceLabException(
                $"Rotation needs square inputs, but the probe images are {inputH}×{inputW}.");
        if (options.Transform == TransformFamily.Translation &&
            MeasureOptions.MaxShiftError(options.MaxShift, (int)Math.Min(inputH, int.MaxValue), (int)Math.Min(inputW, int.MaxValue)) is { } shiftError)
            throw new EquivarianceLabException(shiftError);
        ContinuousFamilies.CheckShiftsFit(options, inputH, inputW);
    }

    private static Tensor Flatten(Tensor spatial) => spatial.reshape(spatial.shape[0], spatial.shape[1], -1);

    /// <summary>The fused kernel serves spatial layers on the CPU; elsewhere (another device, no AVX2/FMA) the batched product does.</summary>
    private static bool UsesKernel(Tensor features) => SimilarityKernel.Active && features.device_type == DeviceType.CPU;

    private static (List<LayerResult> Layers, ImageInfluence[] Influences) BuildLayers(
        IFeatureModel model, LayerState[] states, IReadOnlyList<SpatialTransform> transforms)
    {
        var parts = AssignParts(model, states.Select(s => (s.Name, s.Layout.Kind)).ToList());
        var list = new List<LayerResult>(states.Length);
        var influences = new ImageInfluence[states.Length];
        // Each layer's matching reads every channel's tallies: the layers side by side on the measure's threads.
        var matchings = new Dictionary<string, ChannelMatching>?[states.Length];
        ComputeThreads.ForEachTask([states.Length], (_, l) => matchings[l] = states[l].Matching(transforms));
        for (int l = 0; l < states.Length; l++)
        {
            var per = new Dictionary<string, Score>();
            var members = new List<(Score, ImageInfluence)>(transforms.Count);
            for (int t = 0; t < transforms.Count; t++)
            {
                var accumulator = states[l].Scores[t];
                var score = accumulator.ToScore();
                var influence = accumulator.Influence();
                per[transforms[t].Key] = ScoreUncertainty.Attach(score, score.Invariance, score.Equivariance, influence);
                members.Add((score, influence));
            }
            influences[l] = ScoreUncertainty.Mean(members);
            var layer = new LayerResult
            {
                Name = states[l].Name,
                Index = l,
                Part = parts[l],
                Shape = states[l].Shape,
                Invariance = Mean(per.Values.Select(s => s.Invariance)),
                Equivariance = Mean(per.Values.Select(s => s.Equivariance)),
                PerTransform = per,
                Matching = matchings[l],
            };
            list.Add(ScoreUncertainty.Attach(layer, layer.Invariance, layer.Equivariance, influences[l]));
        }
        return (list, influences);
    }

    /// <summary>
    /// The paper's parts (docs/measure.md, "Parts"): spatial layer i of K goes to ⌊3i/K⌋ → Early/Middle/Late; the
    /// logits layer (when vector) is Final — the model's, or when it names none among these layers, one named
    /// <c>logits</c>; the first other vector layer is Pool; remaining vector layers belong to no part.
    /// </summary>
    public static string?[] AssignParts(IFeatureModel model, IReadOnlyList<(string Name, LayerKind Kind)> layers)
    {
        var parts = new string?[layers.Count];
        int spatialCount = layers.Count(l => l.Kind == LayerKind.Spatial), spatialIndex = 0;
        bool poolTaken = false;
        var logits = model.LogitsLayer is { } own && layers.Any(l => l.Name == own) ? own : Parts.LogitsName;
        for (int l = 0; l < layers.Count; l++)
        {
            if (layers[l].Kind == LayerKind.Spatial)
            {
                parts[l] = (3 * spatialIndex++ / spatialCount) switch { 0 => Parts.Early, 1 => Parts.Middle, _ => Parts.Late };
            }
            else if (layers[l].Name == logits)
            {
                parts[l] = Parts.Final;
            }
            else if (!poolTaken)
            {
                parts[l] = Parts.Pool;
                poolTaken = true;
            }
        }
        return parts;
    }

    /// <summary>
    /// Each part's mean over its layers; with the layers' per-image <paramref name="influences"/> (in layer order),
    /// also its standard error and interval.
    /// </summary>
    public static Dictionary<string, PartScore> AggregateParts(IReadOnlyList<LayerResult> layers, IReadOnlyList<ImageInfluence>? influences = null)
    {
        var parts = new Dictionary<string, PartScore>();
        foreach (var part in Parts.All)
        {
            var members = Enumerable.Range(0, layers.Count).Where(l => layers[l].Part == part).ToList();
            if (members.Count == 0) continue; // a missing part is absent, not zero
            var score = new PartScore(Mean(members.Select(m => layers[m].Invariance)), Mean(members.Select(m => layers[m].Equivariance)), members.Count);
            var influence = influences is null
                ? default
                : ScoreUncertainty.Mean(members.Select(m => (new Score(layers[m].Invariance, layers[m].Equivariance), influences[m])).ToList());
            parts[part] = ScoreUncertainty.Attach(score, score.Invariance, score.Equivariance, influence);
        }
        return parts;
    }

    private static double? Mean(IEnumerable<double?> values)
    {
        var present = values.Where(v => v.HasValue).Select(v => v!.Value).ToList();
        return present.Count > 0 ? present.Average() : null;
    }

    /// <summary>Per-layer state across batches.</summary>
    private sealed class LayerState : IDisposable
    {
        public required string Name { get; init; }
        public required long[] Shape { get; init; }
        public required FeatureLayout Layout { get; init; }
        public required ScoreAccumulator[] Scores { get; init; }
        // Vector layers: f(X) and each f(gX) as channel-major [C, images] float32 tensors, filled batch by batch (sized
        // once, never regrown), over arrays from RecycledArrays that go back once the layer has been scored.
        private Tensor? _reference;
        private Tensor?[]? _moved;
        private long _channels, _referenceRows;
        private long[]? _movedRows;
        private readonly List<float[]> _values = [];

        public static LayerState Create(string name, Tensor raw, int transformCount, int images, bool matching)
        {
            var layout = FeatureLayout.Of(name, raw.shape);
            var state = new LayerState
            {
                Matches = matching ? Enumerable.Range(0, transformCount).Select(_ => new ChannelMatchAccumulator(layout.Kind == LayerKind.Spatial ? images : 1, partnersAreChannels: true)).ToArray() : null,
                Name = name,
                Shape = raw.shape[1..],
                Layout = layout,
                // Spatial layers keep each image's sums; a vector layer's influences come from its vectors at the end.
                Scores = Enumerable.Range(0, transformCount)
                    .Select(_ => layout.Kind == LayerKind.Spatial ? new ScoreAccumulator(images) : new ScoreAccumulator()).ToArray(),
            };
            if (layout.Kind == LayerKind.Vector)
            {
                state._channels = raw.shape[1];
                // Channel-major, [C, images]: scoring needs each channel's vector over the images, and storing them so
                // spares a transposed copy of every one at the end (a copy that grew with N).
                state._reference = state.Values(images);
                state._moved = Enumerable.Range(0, transformCount).Select(_ => state.Values(images)).ToArray();
                state._movedRows = new long[transformCount];
            }
            return state;
        }

        /// <summary>Per transform, which channel each channel became (null when the run does not keep them).</summary>
        public ChannelMatchAccumulator[]? Matches { get; init; }

        /// <summary>The current batch's choices, reused across batches and transforms; null when matching is off.</summary>
        public ChannelChoices? Choices => Matches is null ? null : _choices ??= new ChannelChoices();
        private ChannelChoices? _choices;

        public void AddChoices(int transform)
        {
            if (Matches is not null) Matches[transform].Add(_choices!);
        }

        /// <summary><see cref="AddChoices(int)"/> for several layers, in one parallel loop.</summary>
        public static void AddChoices(IReadOnlyList<LayerState> layers, int transform) =>
            ChannelMatchAccumulator.AddAll(layers.Where(s => s.Matches is not null).Select(s => (s.Matches![transform], s._choices!)).ToList());

        public Dictionary<string, ChannelMatching>? Matching(IReadOnlyList<SpatialTransform> transforms) =>
            Matches is null ? null : Enumerable.Range(0, transforms.Count).ToDictionary(t => transforms[t].Key, t => Matches[t].ToMatching());

        private int[]?[]? _inverses;
        private SimilarityKernel.Reference? _packed;

        /// <summary>This layer's f(X) for the kernel, filled once per batch (<see cref="SimilarityKernel.Reference.FillAll"/>) in the arrays of the batches before.</summary>
        public SimilarityKernel.Reference PackedReference => _packed ??= new SimilarityKernel.Reference();

        public bool HasPackedReference => _packed is not null;

        /// <summary>g⁻¹ on this layer's h×w grid as a gather (position q of g⁻¹·f is position inverse[q] of f), made once.</summary>
        public int[] InverseOf(int transform, SpatialTransform g, long h, long w, long inputH, long inputW)
        {
            _inverses ??= new int[Scores.Length][];
            if (_inverses[transform] is { } known && known.Length == h * w) return known;
            using var scope = NewDisposeScope();
            var positions = Scalars.Range(0, h * w, dtype: ScalarType.Int32).view(1, 1, h, w);
            return _inverses[transform] = TensorMemory.ToArray<int>(g.ApplyInverseToFeature(positions, inputH, inputW));
        }

        /// <summary>A [C, images] float32 tensor outside any dispose scope, over a recycled array where one can hold it.</summary>
        private Tensor Values(int images)
        {
            long size = _channels * images;
            if (size > Array.MaxLength) return empty(_channels, images).DetachFromDisposeScope();
            var values = RecycledArrays.Shared.Rent<float>((int)size, pinned: true);
            _values.Add(values);
            using var flat = frombuffer(values, ScalarType.Float32); // shares the array's memory
            return flat.view(_channels, images).DetachFromDisposeScope();
        }

        /// <summary>
        /// Hands this layer's working arrays to <see cref="RecycledArrays"/>, only after a successful run: the packed
        /// reference, the tallies (read by then), the choices, and a vector layer's values (scored by then, and the
        /// scoring's dispose scope has freed their last tensors, so nothing refers to the arrays).
        /// </summary>
        public void Recycle()
        {
            _packed?.Recycle();
            foreach (var tallies in Matches ?? []) tallies.Recycle();
            _choices?.Recycle();
            foreach (var values in _values) RecycledArrays.Shared.Return(values, pinned: true);
            _values.Clear();
        }

        public void AppendReference(Tensor vectors) => _referenceRows = Append(_reference!, _referenceRows, vectors);
        public void AppendMoved(int transform, Tensor vectors) => _movedRows![transform] = Append(_moved![transform]!, _movedRows[transform], vectors);

        private long Append(Tensor into, long rows, Tensor vectors)
        {
            if (vectors.shape[1] != _channels)
                throw new EquivarianceLabException($"Layer '{Name}' changed its channel count between batches.");
            using var slot = into.narrow(1, rows, vectors.shape[0]);
            using var byChannel = vectors.t();
            slot.copy_(byChannel); // converts to float32 and brings a GPU's vectors to the CPU
            return rows + vectors.shape[0];
        }

        /// <summary>
        /// The stored channel-major [C, images] values as a tensor of this scope, to be normalised in place; the layer
        /// lets go of them, so it holds one copy of its values at a time.
        /// </summary>
        private static Tensor TakeChannels(ref Tensor? stored)
        {
            var channels = stored!.alias(); // a handle of the caller's scope on the same storage
            stored.Dispose();
            stored = null;
            return channels;
        }

        /// <summary>
        /// A stored [C, images] tensor's rows normalised in place (<see cref="SimilarityKernel.NormalizeRows"/>, as the
        /// kernel normalises f(gX)); returns each channel's validity.
        /// </summary>
        private static bool[] NormalizeInPlace(Tensor channels, SimilarityKind kind)
        {
            var valid = new bool[checked((int)channels.shape[0])];
            SimilarityKernel.NormalizeRows(Floats(channels), checked((int)channels.shape[1]), kind, valid);
            return valid;
        }

        /// <summary>A stored (contiguous, float32, CPU) tensor's values, where they are.</summary>
        private static Span<float> Floats(Tensor stored) => MemoryMarshal.Cast<byte, float>(stored.bytes);

        public void Dispose()
        {
            _reference?.Dispose();
            foreach (var moved in _moved ?? []) moved?.Dispose();
        }

        /// <summary>Vector layer: channel c's vector runs over the N images; B = f(X) for every g (g acts as the identity).</summary>
        /// <param name="spare">A reference whose arrays are free to be refilled (null: a new one).</param>
        public void ScoreVectors(SimilarityKind kind, SimilarityKernel.Reference? spare = null)
        {
            using var scope = NewDisposeScope();
            // Normalised in place: the stored values are not needed after this, and a copy would grow with N.
            var reference = TakeChannels(ref _reference);
            var validB = NormalizeInPlace(reference, kind);
            var unitB = reference.unsqueeze(0); // [1, C, N]
            // The fused kernel as for a spatial layer of one "image" whose positions are the N images (g moves none of
            // them): the logits' C × C′ similarities are as many as a late stage's, and the batched product writes them
            // all before it takes the max. The vectors are unit already; the kernel's own normalisation keeps them so.
            SimilarityKernel.Reference? packed = null;
            if (UsesKernel(unitB))
            {
                packed = spare ?? new SimilarityKernel.Reference();
                SimilarityKernel.Reference.FillAll([(packed, unitB)], kind);
            }
            var identity = packed is null ? null : Enumerable.Range(0, checked((int)unitB.shape[2])).ToArray();
            // Taken here, not in the loop: the stored tensors are disposed on the thread that made them.
            var movedByTransform = new Tensor[Scores.Length];
            for (int t = 0; t < Scores.Length; t++) movedByTransform[t] = TakeChannels(ref _moved![t]);
            var validA = new bool[Scores.Length][];
            ComputeThreads.ForEachTask([Scores.Length], (_, t) => validA[t] = NormalizeInPlace(movedByTransform[t], kind));
            // The influences need each channel's partner, whether or not the run keeps the matching.
            var choices = new ChannelChoices[Scores.Length];
            for (int t = 0; t < Scores.Length; t++) choices[t] = new ChannelChoices();
            // Every transform in one loop of the kernel, each a single "image" split into parts of its channels: one loop
            // per transform inside a loop over the transforms left a thread idle for the last of an odd number (the
            // logits of a rotation: 3 × 1.6 ms of products took 4.4–6.5 ms on two threads).
            if (packed is not null)
                SimilarityKernel.Accumulate([.. Enumerable.Range(0, Scores.Length).Select(t =>
                    new SimilarityKernel.Comparison(movedByTransform[t].unsqueeze(0), identity!, packed, Scores[t], choices[t]))]);
            // The rest side by side; each transform has its own dispose scope (a scope belongs to the thread that opened it).
            ComputeThreads.ForEachTask([Scores.Length], (_, t) =>
            {
                using var inner = NewDisposeScope();
                var moved = movedByTransform[t];
                if (packed is null)
                    Similarity.Accumulate(moved.unsqueeze(0), tensor(validA[t]).unsqueeze(0), unitB, tensor(validB).unsqueeze(0), Scores[t], choices[t])?.Dispose();
                Matches?[t].Add(choices[t]);
                var influence = VectorInfluence.Of(Floats(moved), validA[t], Floats(reference), validB, choices[t].Partner);
                Scores[t].SetInfluence(influence.Invariance, influence.Equivariance);
                choices[t].Recycle();
            });
            if (spare is null) packed?.Recycle(); // a reference of its own; a spare goes back with its layer
        }
    }
}
