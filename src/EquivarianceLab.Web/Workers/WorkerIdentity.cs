using Microsoft.ML.OnnxRuntime;

namespace EquivarianceLab.Web.Workers;

/// <summary>
/// Who this process is to the runs it holds, and what it can run. The id is unique per process — machine name,
/// process id and a random part — because containers and pods may share a host name and a process id.
/// </summary>
public sealed class WorkerIdentity
{
    public string Id { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>Whether ONNX Runtime here has a CUDA execution provider (the CPU-only build never has).</summary>
    public bool HasGpu { get; } = DetectGpu();

    /// <summary>Where this process's measurements run (<see cref="Data.Run.Device"/>).</summary>
    public string Device => HasGpu ? "cuda" : "cpu";

    /// <summary>The queues a job server here serves: a GPU worker takes GPU runs first and CPU runs when idle.</summary>
    public string[] Queues => HasGpu ? [RunQueues.Gpu, RunQueues.Cpu] : [RunQueues.Cpu];

    private static bool DetectGpu()
    {
        try { return OrtEnv.Instance().GetAvailableProviders().Contains("CUDAExecutionProvider", StringComparer.Ordinal); }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or OnnxRuntimeException) { return false; }
    }
}

/// <summary>The Hangfire queues runs wait in.</summary>
public static class RunQueues
{
    public const string Cpu = "cpu", Gpu = "gpu";

    /// <summary>The queue for a request's device: "gpu" (or "cuda") waits for a GPU worker; anything else runs on a CPU.</summary>
    public static string For(string? device) => device?.Trim().ToLowerInvariant() switch
    {
        null or "" or "cpu" => Cpu,
        "gpu" or "cuda" => Gpu,
        _ => throw Api.RequestException.Invalid("device", $"device must be cpu or gpu (got '{Uploads.UploadNames.SafeName(device)}')."),
    };
}
