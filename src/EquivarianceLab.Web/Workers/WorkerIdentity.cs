using EquivarianceLab.Compute;

namespace EquivarianceLab.Web.Workers;

/// <summary>
/// Who this process is to the runs it holds, and what it can run. The id is unique per process — machine name,
/// process id and a random part — because containers and pods may share a host name and a process id.
/// </summary>
public sealed class WorkerIdentity
{
    public WorkerIdentity(LabOptions options) : this(WorkerDevices.Parse(options.Worker.Device), WorkerDevices.CudaProblem)
    {
    }

    /// <param name="setting">The node's <c>Worker:Device</c>.</param>
    /// <param name="cudaProblem">Why CUDA is not usable here, or null when it is (asked only for <c>auto</c>).</param>
    internal WorkerIdentity(WorkerDevice setting, Func<string?> cudaProblem)
    {
        Setting = setting;
        // cuda is checked when the node starts (LabOptionsValidator): a node that got this far has a usable GPU.
        HasGpu = setting switch
        {
            WorkerDevice.Cuda => true,
            WorkerDevice.Auto => cudaProblem() is null,
            _ => false,
        };
    }

    public string Id { get; } = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>The node's <c>Worker:Device</c> setting.</summary>
    public WorkerDevice Setting { get; }

    /// <summary>Whether this process measures on a GPU: ONNX Runtime's CUDA execution provider is usable and not switched off.</summary>
    public bool HasGpu { get; }

    /// <summary>The best device here: what the node advertises (cuda on a GPU worker, else cpu).</summary>
    public string Device => HasGpu ? ComputeDevices.CudaName : ComputeDevices.CpuName;

    /// <summary>The queues a job server here serves: a GPU worker takes GPU runs first and CPU runs when idle.</summary>
    public string[] Queues => HasGpu ? [RunQueues.Gpu, RunQueues.Cpu] : [RunQueues.Cpu];

    /// <summary>
    /// The device a run waiting in <paramref name="queue"/> is measured on: cuda for the <c>gpu</c> queue, the CPU for
    /// every other. A CPU run keeps the CPU's numbers wherever it runs; a GPU run on a node without CUDA fails saying
    /// so rather than quietly running on the CPU.
    /// </summary>
    public static ComputeDevice DeviceFor(string? queue) => queue == RunQueues.Gpu ? ComputeDevice.Cuda : ComputeDevice.Cpu;
}

/// <summary>A node's <c>Worker:Device</c>.</summary>
public enum WorkerDevice { Auto, Cpu, Cuda }

public static class WorkerDevices
{
    public const string AutoName = "auto";

    public static bool TryParse(string? value, out WorkerDevice device)
    {
        if (string.Equals(value?.Trim(), AutoName, StringComparison.OrdinalIgnoreCase))
        {
            device = WorkerDevice.Auto;
            return true;
        }
        var known = ComputeDevices.TryParse(value, out var compute);
        device = compute == ComputeDevice.Cuda ? WorkerDevice.Cuda : WorkerDevice.Cpu;
        return known;
    }

    public static WorkerDevice Parse(string? value) =>
        TryParse(value, out var device)
            ? device
            : throw new ArgumentException($"{LabOptions.Section}:Worker:Device must be auto, cpu or cuda (got '{Messages.Untrusted(value, 40)}').");

    /// <summary>
    /// Why this process cannot measure on a GPU, or null when it can: ONNX Runtime's CUDA execution provider is built in
    /// and starts on GPU 0 (found once per process; on the default build at once, without touching CUDA).
    /// </summary>
    public static string? CudaProblem() => ComputeDevices.OnnxRuntimeCudaProblem();
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
