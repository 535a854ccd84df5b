namespace EquivarianceLab.Compute;

/// <summary>
/// How many cores the measure may use: ONNX Runtime's intra-op pool, libtorch's threads and the similarity kernel
/// all read this one number. Every core by default (.NET's processor count, which DOTNET_PROCESSOR_COUNT caps — the
/// dashboard's workers set it); <see cref="Limit"/> caps it for a process, so several workers can share a machine.
/// </summary>
public static class ComputeThreads
{
    private static int _count = Math.Max(1, Environment.ProcessorCount);

    public static int Count => Volatile.Read(ref _count);

    /// <summary>Caps every pool at <paramref name="threads"/> (at least 1): libtorch's now, ONNX Runtime's for sessions made after.</summary>
    public static void Limit(int threads)
    {
        if (threads < 1) throw new EquivarianceLabException($"--threads must be at least 1 (got {threads}).");
        Volatile.Write(ref _count, threads);
        TorchSharp.torch.set_num_threads(threads);
    }
}
