using System.Collections.Concurrent;
using EquivarianceLab.Compute;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;

namespace EquivarianceLab.FeatureModels.Onnx;

/// <summary>
/// An ONNX graph run by ONNX Runtime as a feature model (docs/models-and-probes.md, "ONNX graphs"). Any float tensor
/// of the graph that has the batch as its first dim can be a measured layer: the wanted tensors become graph outputs
/// of an in-memory copy of the model. Without explicit layers, the default selection of
/// <see cref="OnnxLayerSelection"/> applies.
/// Graphs with a fixed batch size of 1 get a free batch dim when that provably gives the same results, and
/// otherwise run image by image (<see cref="BatchMode"/>).
/// </summary>
public sealed class OnnxFeatureModel : IFeatureModel
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly long?[] _fixedChw;
    // Per-image layer shapes by input [C, H, W], learned from the first run at that size; later runs have
    // ONNX Runtime write straight into the returned tensors instead of copying its own buffers.
    private readonly ConcurrentDictionary<(long C, long H, long W), long[][]> _outputShapes = new();
    private bool _disposed;

    private OnnxFeatureModel(string name, InferenceSession session, OnnxGraph graph, OnnxProbeResult probe,
        IReadOnlyList<string> layers, IReadOnlyList<string> defaultLayers, string? logits, bool named, OnnxLoadOptions options)
    {
        Name = name;
        _session = session;
        IntraOpThreads = Math.Max(1, options.IntraOpThreads);
        ExecutionDevice = options.Device;
        InputName = graph.InputName;
        _inputNames = [graph.InputName];
        _fixedChw = graph.InputDims.Skip(1).ToArray();
        InputShape = _fixedChw.Select(d => d ?? -1).ToArray();
        BatchMode = probe.Mode;
        WeightsInFile = graph.WeightsInFile;
        AvailableTensors = probe.Tensors;
        TensorShapes = probe.Tensors.ToDictionary(t => t, t => (IReadOnlyList<long>)probe.Shapes[t][1..], StringComparer.Ordinal);
        TensorOps = probe.Tensors.ToDictionary(t => t, t => graph.ProducerOf(t)?.OpType ?? "", StringComparer.Ordinal);
        Layers = layers;
        DefaultLayers = defaultLayers;
        DefaultLogitsLayer = logits;
        // The model's output counts as its logits too when it is listed without the Softmax input it comes from.
        LogitsLayer = logits is null ? null
            : layers.Contains(logits) ? logits
            : !named && graph.FirstOutput is { } output && layers.Contains(output) ? output
            : null;
    }

    public string Name { get; }

    /// <summary>[C, H, W] from the graph input; -1 for a symbolic or unknown dim.</summary>
    public IReadOnlyList<long> InputShape { get; }

    public IReadOnlyList<string> Layers { get; }

    /// <summary>
    /// The logits tensor — the one named by <see cref="OnnxLoadOptions.Logits"/>, else the input of the Softmax
    /// producing the graph's first output, else that output — when it is one of <see cref="Layers"/> and is not
    /// the pooled features themselves; otherwise null.
    /// </summary>
    public string? LogitsLayer { get; }

    /// <summary>The logits of the default selection (null for a featurizer).</summary>
    public string? DefaultLogitsLayer { get; }

    /// <summary>The name of the graph's image input.</summary>
    public string InputName { get; }

    /// <summary>Every float tensor of the graph that can be a layer (computed from the image, batch first), in node order.</summary>
    public IReadOnlyList<string> AvailableTensors { get; }

    /// <summary>The shape of each tensor in <see cref="AvailableTensors"/> without the batch dim, at the probe input shape.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<long>> TensorShapes { get; }

    /// <summary>The op type of the node producing each tensor in <see cref="AvailableTensors"/>.</summary>
    public IReadOnlyDictionary<string, string> TensorOps { get; }

    /// <summary>The layers the default rules pick, whatever was asked for.</summary>
    public IReadOnlyList<string> DefaultLayers { get; }

    public OnnxBatchMode BatchMode { get; }

    /// <summary>
    /// How many initializers ONNX Runtime reads straight from the model file, never read into this process nor
    /// serialised with the graph (docs/models-and-probes.md, "ONNX graphs", Loading): those of at least 4 KiB whose
    /// data is one raw_data field or one packed float_data field.
    /// </summary>
    public int WeightsInFile { get; }

    /// <summary>The intra-op threads ONNX Runtime's session for the measured layers was made with.</summary>
    public int IntraOpThreads { get; }

    /// <summary>
    /// Where ONNX Runtime runs the graph. Batches and features are in host memory either way (<see cref="IFeatureModel.Device"/>
    /// is the CPU): on CUDA, ONNX Runtime copies each batch to the GPU and each layer back.
    /// </summary>
    public ComputeDevice ExecutionDevice { get; }

    /// <summary>
    /// Loads an ONNX model. <paramref name="layers"/> are graph tensor names, kept in the order given; null or empty
    /// selects the default layers (<see cref="OnnxLayerSelection"/>). Every problem with the file, the graph or the layer
    /// names is an <see cref="EquivarianceLabException"/> with a one-line message.
    /// </summary>
    public static OnnxFeatureModel Load(string path, IReadOnlyList<string>? layers = null, OnnxLoadOptions? options = null)
    {
        options ??= new OnnxLoadOptions();
        var name = options.Name ?? Path.GetFileName(path);
        // Before any work on the graph: a GPU asked for where there is none fails at once.
        ComputeDevices.EnsureOnnxRuntime(options.Device);
        try
        {
            var graph = OnnxGraph.Read(path, name, options.Limits);
            var chw = ProbeShape(graph, options.ProbeShape, options.Limits);
            var probe = OnnxProbe.Run(graph, chw, options);
            if (options.Logits is { } named) CheckLayers([named], graph, probe, probe.Tensors);
            var defaults = OnnxLayerSelection.Default(graph, probe.Tensors, probe.Shapes, options.Logits, out var logits);
            var chosen = layers is null or { Count: 0 } ? defaults : CheckLayers(layers, graph, probe, defaults);
            if (chosen.Count == 0)
                throw new EquivarianceLabException($"{name}: no layers to measure (the graph has no activation, residual, pooled or output tensor); name them with --layers.");
            if (options.Logits is { } logitsName && !chosen.Contains(logitsName))
                throw new EquivarianceLabException($"The logits tensor '{logitsName}' is not one of the layers to measure; add it to --layers.");
            var session = OnnxProbe.CreateSession(graph.Serialize(chosen, probe.FreeBatch, typedFloat: true), options, probe: false, graph);
            return new OnnxFeatureModel(name, session, graph, probe, chosen, defaults, logits, options.Logits is not null, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new EquivarianceLabException($"{name} could not be loaded by ONNX Runtime: {Messages.FirstLine(e.Message)}", e);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw OnnxGraph.NotOnnx(name, e);
        }
    }

    /// <summary>
    /// Runs a batch <c>[B, C, H, W]</c> (float32, CPU). The input is handed to ONNX Runtime in place, and ONNX Runtime
    /// writes each layer straight into the returned tensor (the first batch of a new input size is copied once
    /// instead, to learn the shapes). In <see cref="OnnxBatchMode.PerImage"/> mode each image runs alone and
    /// writes into its row of the batch tensors.
    /// </summary>
    public IReadOnlyList<torch.Tensor> Forward(torch.Tensor batch) => Run(batch, null);

    /// <summary>
    /// <see cref="Forward(torch.Tensor)"/> with ONNX Runtime writing into <paramref name="into"/>'s storage, kept from one
    /// batch to the next, instead of new tensors (the first batch of a new input size is still copied once).
    /// </summary>
    public IReadOnlyList<torch.Tensor> Forward(torch.Tensor batch, FeatureBuffers into) => Run(batch, into);

    private List<torch.Tensor> Run(torch.Tensor batch, FeatureBuffers? into)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        CheckBatch(batch);
        var input = batch.is_contiguous() ? batch : batch.contiguous();
        try
        {
            return BatchMode == OnnxBatchMode.Batched ? RunBatched(input, into) : RunPerImage(input, into);
        }
        catch (OnnxRuntimeException e)
        {
            throw new EquivarianceLabException(
                $"{Name}: the forward pass failed for a batch of shape [{string.Join(",", batch.shape)}]: {Messages.FirstLine(e.Message)}", e);
        }
        finally
        {
            if (!ReferenceEquals(input, batch)) input.Dispose();
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _session.Dispose();
        _runOptions.Dispose();
    }

    private List<torch.Tensor> RunBatched(torch.Tensor input, FeatureBuffers? into)
    {
        var shape = input.shape;
        if (_outputShapes.TryGetValue((shape[1], shape[2], shape[3]), out var perImage))
        {
            var outputs = Allocate(perImage, shape[0], into);
            try
            {
                RunInto(input, outputs, 0, shape[0]);
                return outputs;
            }
            catch
            {
                Dispose(outputs);
                throw;
            }
        }

        // First batch of this size: ONNX Runtime allocates, the results are copied and their shapes kept.
        using var value = TorchOrt.Wrap(input);
        using var results = _session.Run(_runOptions, _inputNames, [value], Layers);
        var copied = new List<torch.Tensor>(results.Count);
        try
        {
            foreach (var result in results) copied.Add(TorchOrt.ToTensor(result));
        }
        catch
        {
            Dispose(copied);
            throw;
        }
        if (copied.All(t => t.shape[0] == shape[0]))
            _outputShapes[(shape[1], shape[2], shape[3])] = copied.Select(t => t.shape[1..]).ToArray();
        return copied;
    }

    private List<torch.Tensor> RunPerImage(torch.Tensor input, FeatureBuffers? into)
    {
        var shape = input.shape;
        List<torch.Tensor>? outputs = null;
        long first = 0;
        try
        {
            if (_outputShapes.TryGetValue((shape[1], shape[2], shape[3]), out var perImage))
                outputs = Allocate(perImage, shape[0], into);
            else
            {
                // The first image of this size learns the output shapes; its results are copied into place.
                using var image = input.narrow(0, 0, 1);
                using var value = TorchOrt.Wrap(image);
                using var results = _session.Run(_runOptions, _inputNames, [value], Layers);
                var shapes = results.Select(r => r.GetTensorTypeAndShape().Shape).ToArray();
                for (var i = 0; i < shapes.Length; i++)
                    if (shapes[i].Length == 0 || shapes[i][0] != 1)
                        throw new EquivarianceLabException($"{Name}: layer '{Layers[i]}' has shape [{string.Join(",", shapes[i])}] for one image; its first dim is not the batch.");
                perImage = shapes.Select(s => s[1..]).ToArray();
                outputs = Allocate(perImage, shape[0], into);
                var k = 0;
                foreach (var result in results)
                    using (var slice = outputs[k++].narrow(0, 0, 1))
                        TorchOrt.CopyInto(result, slice);
                _outputShapes[(shape[1], shape[2], shape[3])] = perImage;
                first = 1;
            }
            for (var b = first; b < shape[0]; b++)
            {
                using var image = input.narrow(0, b, 1);
                RunInto(image, outputs, b, 1);
            }
            return outputs;
        }
        catch
        {
            if (outputs is not null) Dispose(outputs);
            throw;
        }
    }

    /// <summary>Runs <paramref name="input"/> with ONNX Runtime writing each layer into rows [offset, offset + count) of its output.</summary>
    private void RunInto(torch.Tensor input, List<torch.Tensor> outputs, long offset, long count)
    {
        var slices = new List<torch.Tensor>(outputs.Count);
        var values = new List<OrtValue>(outputs.Count);
        try
        {
            foreach (var output in outputs)
            {
                var slice = output.narrow(0, offset, count);
                slices.Add(slice);
                values.Add(TorchOrt.Wrap(slice));
            }
            using var value = TorchOrt.Wrap(input);
            _session.Run(_runOptions, _inputNames, [value], Layers, values);
        }
        finally
        {
            foreach (var v in values) v.Dispose();
            Dispose(slices);
        }
    }

    private static List<torch.Tensor> Allocate(long[][] perImage, long count, FeatureBuffers? into)
    {
        if (into is not null) return into.Rows(perImage, count);
        var outputs = new List<torch.Tensor>(perImage.Length);
        foreach (var shape in perImage) outputs.Add(torch.empty([count, .. shape], torch.ScalarType.Float32));
        return outputs;
    }

    private static void Dispose(List<torch.Tensor> tensors)
    {
        foreach (var t in tensors) t.Dispose();
    }

    private void CheckBatch(torch.Tensor batch)
    {
        if (batch.dtype != torch.ScalarType.Float32)
            throw new EquivarianceLabException($"{Name}: the input batch is {batch.dtype}; the model takes float32.");
        if (batch.device_type != DeviceType.CPU)
            throw new EquivarianceLabException($"{Name}: the input batch is on {batch.device}; ONNX Runtime here takes batches in host memory.");
        var shape = batch.shape;
        if (shape.Length != 4)
            throw new EquivarianceLabException($"{Name}: the input batch has shape [{string.Join(",", shape)}]; the model takes [N,C,H,W].");
        if (shape[0] == 0)
            throw new EquivarianceLabException($"{Name}: the input batch is empty.");
        for (var i = 0; i < 3; i++)
            if (_fixedChw[i] is { } d && d != shape[i + 1])
                throw new EquivarianceLabException(
                    $"{Name} takes input [{FormatChw(InputShape)}] (C,H,W) but the batch is [{FormatChw(shape[1..])}].");
    }

    private static long[] ProbeShape(OnnxGraph graph, IReadOnlyList<long>? requested, OnnxLimits limits)
    {
        var fixedChw = graph.InputDims.Skip(1).ToArray();
        var chw = requested is null ? [fixedChw[0] ?? 3, fixedChw[1] ?? 224, fixedChw[2] ?? 224] : CheckRequested(graph, requested, fixedChw);
        // The probe run allocates inputs of this size and ONNX Runtime every tensor that follows: check it first.
        long elements = OnnxLimits.ElementsOf(chw);
        if (elements > limits.MaxInputElements)
            throw new EquivarianceLabException(
                $"{graph.Name}: an input of [{FormatChw(chw)}] is {elements} values per image (C×H×W); the limit is {limits.DescribeMaxInputElements()}.");
        return chw;
    }

    private static long[] CheckRequested(OnnxGraph graph, IReadOnlyList<long> requested, long?[] fixedChw)
    {
        if (requested.Count != 3 || requested.Any(d => d <= 0))
            throw new EquivarianceLabException($"The probe shape [{string.Join(",", requested)}] is not a [C,H,W] shape.");
        for (var i = 0; i < 3; i++)
            if (fixedChw[i] is { } d && d != requested[i])
                throw new EquivarianceLabException(
                    $"{graph.Name} takes input [{FormatChw(fixedChw.Select(x => x ?? -1).ToArray())}] (C,H,W) but the probe is [{FormatChw(requested)}].");
        return requested.ToArray();
    }

    private static string FormatChw(IReadOnlyList<long> shape) => string.Join(",", shape.Select(d => d < 0 ? "?" : d.ToString()));

    private static List<string> CheckLayers(IReadOnlyList<string> layers, OnnxGraph graph, OnnxProbeResult probe, IReadOnlyList<string> defaults)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var layer in layers)
        {
            if (!seen.Add(layer)) throw new EquivarianceLabException($"Layer '{layer}' is listed twice.");
            if (probe.Shapes.ContainsKey(layer)) continue;
            if (probe.Excluded.TryGetValue(layer, out var shape))
                throw new EquivarianceLabException(
                    $"Layer '{layer}' in {graph.Name} has shape [{string.Join(",", shape)}] for a batch of {probe.ProbeBatch}: its first dim is not the batch, so it cannot be measured per image.");
            if (layer == graph.InputName)
                throw new EquivarianceLabException($"Layer '{layer}' is the input of {graph.Name}; layers are tensors computed from it.");
            if (graph.IsGraphTensor(layer))
                throw new EquivarianceLabException(graph.IsComputed(layer)
                    ? $"Layer '{layer}' in {graph.Name} is not a float tensor."
                    : $"Layer '{layer}' in {graph.Name} does not depend on the image (it is a constant).");
            throw new EquivarianceLabException(LayerNameHints.UnknownLayer(layer, graph.Name, probe.Tensors, defaults));
        }
        return layers.ToList();
    }
}
