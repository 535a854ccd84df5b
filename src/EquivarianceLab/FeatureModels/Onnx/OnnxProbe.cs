using EquivarianceLab.Compute;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EquivarianceLab.FeatureModels.Onnx;

/// <summary>What one probe run over every computed tensor found.</summary>
/// <param name="Mode">How batches will run.</param>
/// <param name="FreeBatch">Whether the final graph needs its fixed batch rewritten to a symbolic one.</param>
/// <param name="Tensors">Float tensors with the batch as first dim, in node order: the measurable layers.</param>
/// <param name="Shapes">Their runtime shapes (batch first) at the probe input.</param>
/// <param name="Excluded">Float tensors that are not per-image (no batch dim first), with their shapes.</param>
internal sealed record OnnxProbeResult(
    OnnxBatchMode Mode,
    bool FreeBatch,
    IReadOnlyList<string> Tensors,
    IReadOnlyDictionary<string, long[]> Shapes,
    IReadOnlyDictionary<string, long[]> Excluded,
    int ProbeBatch);

/// <summary>
/// Runs the graph once with every computed tensor as an output to learn types and shapes, and decides how
/// batches run. A fixed batch size is first rewritten to a symbolic dim; that is kept only if a batch of two
/// gives every per-image tensor a batch of two with the same values as two single-image runs (a Reshape to a
/// hard-coded 1 fails this). Otherwise the graph runs image by image.
/// </summary>
internal static class OnnxProbe
{
    private const int Seed = 20230617;

    public static OnnxProbeResult Run(OnnxGraph graph, long[] chw, OnnxLoadOptions options)
    {
        string? problem = null;
        if (!options.ForcePerImage)
        {
            try
            {
                return Batched(graph, chw, options, rewrite: graph.HasFixedBatch);
            }
            catch (BatchingFailedException e)
            {
                problem = e.Message;
            }
        }
        if (graph.InputDims[0] is > 1 and var fixedBatch)
            throw new EquivarianceLabException(
                $"{graph.Name}: input '{graph.InputName}' has a fixed batch size of {fixedBatch}" +
                (problem is null ? ", which cannot run image by image." : $" that could not be made free ({problem})."));
        return PerImage(graph, chw, options);
    }

    public static InferenceSession CreateSession(byte[] model, OnnxLoadOptions options, bool probe, OnnxGraph graph)
    {
        using var so = new SessionOptions
        {
            GraphOptimizationLevel = probe || !options.OptimizeGraph
                ? GraphOptimizationLevel.ORT_ENABLE_BASIC
                : GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = Math.Max(1, options.IntraOpThreads),
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            // Failures come back as exceptions with the same text; a rejected batch rewrite is expected, not news.
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
        };
        if (!options.AllowSpinning) so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        // The model is handed over as bytes, so ONNX Runtime needs to be told where external weights are.
        so.AddSessionConfigEntry("session.model_external_initializers_file_folder_path", graph.Folder);
        // Probe sessions learn shapes and check batching, the same on any device: they stay on the CPU.
        bool cuda = !probe && options.Device == ComputeDevice.Cuda;
        if (cuda) ComputeDevices.AppendOnnxRuntimeCuda(so);
        try
        {
            return new InferenceSession(model, so);
        }
        catch (OnnxRuntimeException e) when (cuda && MentionsCuda(e.Message))
        {
            throw new EquivarianceLabException($"--device {ComputeDevices.CudaName}: {ComputeDevices.CudaStartFailure(e)}", e);
        }
        catch (OnnxRuntimeException e)
        {
            throw new EquivarianceLabException($"{graph.Name} could not be loaded by ONNX Runtime: {Messages.FirstLine(e.Message)}", e);
        }
    }

    /// <summary>A session that failed on CUDA but not in the CPU probe runs failed because of CUDA, when ONNX Runtime says so.</summary>
    private static bool MentionsCuda(string message) =>
        message.Contains("CUDA", StringComparison.OrdinalIgnoreCase) || message.Contains("cudnn", StringComparison.OrdinalIgnoreCase)
        || message.Contains("cublas", StringComparison.OrdinalIgnoreCase) || message.Contains("libcu", StringComparison.Ordinal);

    private static OnnxProbeResult Batched(OnnxGraph graph, long[] chw, OnnxLoadOptions options, bool rewrite)
    {
        InferenceSession session;
        try
        {
            session = CreateSession(graph.Serialize(graph.ComputedTensors, freeBatch: rewrite, typedFloat: false), options, probe: true, graph);
        }
        catch (EquivarianceLabException e) when (rewrite)
        {
            throw new BatchingFailedException($"with a free batch it does not load: {Messages.FirstLine(e.InnerException?.Message ?? e.Message)}");
        }
        using (session)
        {
            var floats = FloatOutputs(session, graph);
            var batch = RandomImages(2, chw);
            Dictionary<string, (long[] Shape, float[] Data)> two;
            try
            {
                two = RunAll(session, graph.InputName, batch, [2, .. chw], floats, keepData: rewrite);
            }
            catch (OnnxRuntimeException e) when (rewrite)
            {
                throw new BatchingFailedException($"a batch of 2 fails: {Messages.FirstLine(e.Message)}");
            }
            catch (OnnxRuntimeException e)
            {
                throw ProbeFailed(graph, chw, 2, e);
            }

            var tensors = new List<string>();
            var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
            var excluded = new Dictionary<string, long[]>(StringComparer.Ordinal);
            var singles = rewrite ? SingleRuns(session, graph, batch, chw, floats) : null;
            foreach (var name in floats)
            {
                var shape = two[name].Shape;
                var perImage = shape.Length >= 1 && shape[0] == 2;
                if (singles is not null)
                {
                    var single = singles[0][name].Shape;
                    perImage = single.Length >= 1 && single[0] == 1;
                    if (perImage) CheckSameAsSingles(name, two[name], singles);
                }
                if (perImage)
                {
                    tensors.Add(name);
                    shapes[name] = shape;
                }
                else excluded[name] = shape;
            }
            return new OnnxProbeResult(OnnxBatchMode.Batched, rewrite, tensors, shapes, excluded, 2);
        }
    }

    private static OnnxProbeResult PerImage(OnnxGraph graph, long[] chw, OnnxLoadOptions options)
    {
        using var session = CreateSession(graph.Serialize(graph.ComputedTensors, freeBatch: false, typedFloat: false), options, probe: true, graph);
        var floats = FloatOutputs(session, graph);
        Dictionary<string, (long[] Shape, float[] Data)> one;
        try
        {
            one = RunAll(session, graph.InputName, RandomImages(1, chw), [1, .. chw], floats, keepData: false);
        }
        catch (OnnxRuntimeException e)
        {
            throw ProbeFailed(graph, chw, 1, e);
        }
        var tensors = new List<string>();
        var shapes = new Dictionary<string, long[]>(StringComparer.Ordinal);
        var excluded = new Dictionary<string, long[]>(StringComparer.Ordinal);
        foreach (var name in floats)
        {
            var shape = one[name].Shape;
            if (shape.Length >= 1 && shape[0] == 1)
            {
                tensors.Add(name);
                shapes[name] = shape;
            }
            else excluded[name] = shape;
        }
        return new OnnxProbeResult(OnnxBatchMode.PerImage, false, tensors, shapes, excluded, 1);
    }

    private static List<Dictionary<string, (long[] Shape, float[] Data)>> SingleRuns(
        InferenceSession session, OnnxGraph graph, float[] batch, long[] chw, IReadOnlyList<string> names)
    {
        var size = (int)(chw[0] * chw[1] * chw[2]);
        var runs = new List<Dictionary<string, (long[] Shape, float[] Data)>>();
        for (var b = 0; b < 2; b++)
        {
            try
            {
                runs.Add(RunAll(session, graph.InputName, batch.AsSpan(b * size, size).ToArray(), [1, .. chw], names, keepData: true));
            }
            catch (OnnxRuntimeException e)
            {
                throw new BatchingFailedException($"a single image fails with a free batch: {Messages.FirstLine(e.Message)}");
            }
        }
        return runs;
    }

    private static void CheckSameAsSingles(string name, (long[] Shape, float[] Data) two,
        List<Dictionary<string, (long[] Shape, float[] Data)>> singles)
    {
        var single = singles[0][name];
        if (two.Shape[0] != 2 || !two.Shape.AsSpan(1).SequenceEqual(single.Shape.AsSpan(1)))
            throw new BatchingFailedException(
                $"tensor '{name}' is [{string.Join(",", single.Shape)}] for one image but [{string.Join(",", two.Shape)}] for two");
        var n = single.Data.Length;
        for (var b = 0; b < 2; b++)
        {
            var expected = singles[b][name].Data;
            var actual = two.Data.AsSpan(b * n, n);
            var scale = 0f;
            foreach (var v in expected) scale = Math.Max(scale, Math.Abs(v));
            var tolerance = 1e-4f * scale + 1e-5f;
            for (var i = 0; i < n; i++)
                if (!(Math.Abs(actual[i] - expected[i]) <= tolerance))
                    throw new BatchingFailedException($"tensor '{name}' of image {b} differs between a batch of 2 and a single run");
        }
    }

    private static List<string> FloatOutputs(InferenceSession session, OnnxGraph graph)
    {
        var meta = session.OutputMetadata;
        return graph.ComputedTensors
            .Where(t => meta.TryGetValue(t, out var m) && m.IsTensor && m.ElementDataType == TensorElementType.Float)
            .ToList();
    }

    private static Dictionary<string, (long[] Shape, float[] Data)> RunAll(InferenceSession session, string inputName,
        float[] input, long[] shape, IReadOnlyList<string> outputs, bool keepData)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var runOptions = new RunOptions();
        using var results = session.Run(runOptions, [inputName], [value], outputs);
        var found = new Dictionary<string, (long[] Shape, float[] Data)>(StringComparer.Ordinal);
        var i = 0;
        foreach (var result in results)
        {
            var data = keepData ? result.GetTensorDataAsSpan<float>().ToArray() : [];
            found[outputs[i++]] = (result.GetTensorTypeAndShape().Shape, data);
        }
        return found;
    }

    private static float[] RandomImages(int count, long[] chw)
    {
        var random = new Random(Seed);
        var data = new float[count * chw[0] * chw[1] * chw[2]];
        for (var i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
        return data;
    }

    private static EquivarianceLabException ProbeFailed(OnnxGraph graph, long[] chw, int batch, OnnxRuntimeException e) =>
        new($"{graph.Name}: a probe run with input [{batch},{string.Join(",", chw)}] failed: {Messages.FirstLine(e.Message)}" +
            (graph.InputDims.Skip(1).Any(d => d is null) ? " (the input has free dims; give the probe's shape)" : ""), e);

    private sealed class BatchingFailedException(string message) : Exception(message);
}
