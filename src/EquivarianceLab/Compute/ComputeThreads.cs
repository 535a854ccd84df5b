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

    /// <summary>
    /// Several items' tasks (<paramref name="counts"/>[k] for item k) in one parallel loop on these threads, as
    /// <paramref name="body"/>(item, task within the item): after a forward pass the measure's other threads are
    /// asleep, and each loop wakes them (docs/performance.md). On one thread, or for one task, a plain loop.
    /// </summary>
    public static void ForEachTask(IReadOnlyList<int> counts, Action<int, int> body)
    {
        var item = new List<int>();
        var start = new int[counts.Count];
        for (int k = 0; k < counts.Count; k++)
        {
            start[k] = item.Count;
            item.AddRange(Enumerable.Repeat(k, counts[k]));
        }
        if (item.Count > 1 && Count > 1)
            Parallel.For(0, item.Count, new ParallelOptions { MaxDegreeOfParallelism = Count }, task => body(item[task], task - start[item[task]]));
        else
            for (int task = 0; task < item.Count; task++) body(item[task], task - start[item[task]]);
    }
}
