namespace EquivarianceLab.FeatureModels.Onnx;

/// <summary>How <see cref="OnnxFeatureModel.Load"/> prepares a graph.</summary>
public sealed record OnnxLoadOptions
{
    /// <summary>
    /// The input shape <c>[C, H, W]</c> the model will be run on (the probe set's). Load checks it against the
    /// graph's fixed input dims and uses it for the probe run that finds each tensor's shape (and so the default
    /// layers). When null, the graph's fixed dims are used and free dims become C = 3, H = W = 224.
    /// </summary>
    public IReadOnlyList<long>? ProbeShape { get; init; }

    /// <summary>ONNX Runtime intra-op threads; defaults to <see cref="Compute.ComputeThreads.Count"/> when the options are made.</summary>
    public int IntraOpThreads { get; init; } = Compute.ComputeThreads.Count;

    /// <summary>
    /// Where the graph runs. On CUDA, ONNX Runtime's CUDA execution provider runs it on GPU 0 (the probe runs that learn
    /// the tensor shapes stay on the CPU); batches and features stay in host memory, and ONNX Runtime copies them.
    /// </summary>
    public Compute.ComputeDevice Device { get; init; } = Compute.ComputeDevice.Cpu;

    /// <summary>ONNX Runtime graph optimisations (ORT_ENABLE_ALL). Off gives ORT_ENABLE_BASIC.</summary>
    public bool OptimizeGraph { get; init; } = true;

    /// <summary>
    /// Whether ONNX Runtime's worker threads busy-wait between operators. Off by default: the measure runs
    /// TorchSharp work between forward passes, and spinning threads would take the cores it needs.
    /// </summary>
    public bool AllowSpinning { get; init; }

    /// <summary>Run image by image even when the graph could be batched (for comparison and debugging).</summary>
    public bool ForcePerImage { get; init; }

    /// <summary>
    /// The tensor that holds the model's logits (its Final part), when not the graph's own (the first output, or
    /// the input of the Softmax producing it). It must be among the layers measured; the default selection
    /// takes it instead of the graph's.
    /// </summary>
    public string? Logits { get; init; }

    /// <summary>Display name; defaults to the file name.</summary>
    public string? Name { get; init; }

    /// <summary>Static limits checked before ONNX Runtime sees the graph (input size, node count, control flow, tensor data).</summary>
    public OnnxLimits Limits { get; init; } = OnnxLimits.Default;
}

/// <summary>How a loaded graph processes a batch.</summary>
public enum OnnxBatchMode
{
    /// <summary>The whole batch in one run (the graph has a free batch dim, or its fixed batch of 1 was rewritten).</summary>
    Batched,

    /// <summary>One run per image, outputs concatenated (a fixed batch size that could not be rewritten).</summary>
    PerImage,
}
