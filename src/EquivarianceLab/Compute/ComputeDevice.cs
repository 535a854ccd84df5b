using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace EquivarianceLab.Compute;

/// <summary>Where a model runs: the CPU, or the first CUDA GPU.</summary>
public enum ComputeDevice { Cpu, Cuda }

/// <summary>
/// Parsing of <c>--device</c>, and whether CUDA is usable here. Asked for where it is not, the answer is one line
/// saying what is missing, never a quiet move to the CPU: a measurement that was meant for the GPU and ran on two
/// cores for a day is worse than one that refuses at once. Messages name <c>--device cuda</c> because the command
/// line is where users meet them; the dashboard's workers check the same conditions when they start.
/// </summary>
public static class ComputeDevices
{
    public const string CpuName = "cpu", CudaName = "cuda";

    /// <summary>The name ONNX Runtime lists its CUDA execution provider under.</summary>
    public const string OnnxRuntimeCudaProvider = "CUDAExecutionProvider";

    /// <summary>What <see cref="Parse"/> accepts, for messages and help.</summary>
    public const string Allowed = "cpu or cuda";

    /// <summary>"cpu" or "cuda", any case, surrounding spaces ignored; anything else names the allowed values.</summary>
    public static ComputeDevice Parse(string? value) =>
        TryParse(value, out var device)
            ? device
            : throw new EquivarianceLabException($"--device must be {Allowed} (got '{Messages.Untrusted(value, 40)}').");

    public static bool TryParse(string? value, out ComputeDevice device)
    {
        switch (value?.Trim().ToLowerInvariant())
        {
            case CpuName: device = ComputeDevice.Cpu; return true;
            case CudaName: device = ComputeDevice.Cuda; return true;
            default: device = ComputeDevice.Cpu; return false;
        }
    }

    public static string Name(this ComputeDevice device) => device == ComputeDevice.Cuda ? CudaName : CpuName;

    /// <summary>The libtorch device: the first GPU for CUDA.</summary>
    public static TorchSharp.torch.Device ToTorch(this ComputeDevice device) =>
        device == ComputeDevice.Cuda ? TorchSharp.torch.CUDA : TorchSharp.torch.CPU;

    // ---- ONNX Runtime ----

    /// <summary>
    /// The shared libraries ONNX Runtime 1.31's CUDA execution provider needs, as its NuGet package was built (CUDA 13,
    /// cuDNN 9; read from libonnxruntime_providers_cuda.so): the driver's first, since without it nothing else helps.
    /// Checking them by name makes the message list every one that is missing, where the loader stops at the first.
    /// </summary>
    internal static readonly IReadOnlyList<(string Library, string What)> OnnxRuntimeCudaLibraries =
    [
        ("libcuda.so.1", "the NVIDIA driver"),
        ("libcudart.so.13", "CUDA 13"),
        ("libcublas.so.13", "CUDA 13"),
        ("libcublasLt.so.13", "CUDA 13"),
        ("libcurand.so.10", "CUDA 13"),
        ("libcudnn.so.9", "cuDNN 9"),
    ];

    private static readonly Lazy<string?> OnnxRuntimeProblem = new(FindOnnxRuntimeCudaProblem);

    /// <summary>Whether this build's ONNX Runtime has a CUDA execution provider at all (the default build never has).</summary>
    public static bool OnnxRuntimeHasCudaProvider()
    {
        try
        {
            return OrtEnv.Instance().GetAvailableProviders().Contains(OnnxRuntimeCudaProvider, StringComparer.Ordinal);
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or OnnxRuntimeException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// Why ONNX Runtime cannot run a graph on the GPU here (the text after "--device cuda: "), or null when it can:
    /// the provider is built in, its libraries load and a one-node session starts on device 0. Found once per process.
    /// </summary>
    public static string? OnnxRuntimeCudaProblem() => OnnxRuntimeProblem.Value;

    /// <summary>Throws the one-line failure when <paramref name="device"/> is CUDA and ONNX Runtime cannot use it.</summary>
    public static void EnsureOnnxRuntime(ComputeDevice device)
    {
        if (device == ComputeDevice.Cuda && OnnxRuntimeCudaProblem() is { } problem)
            throw new EquivarianceLabException($"--device {CudaName}: {problem}");
    }

    /// <summary>Adds the CUDA execution provider (device 0) to a session's options; a failure is one line naming what is missing.</summary>
    public static void AppendOnnxRuntimeCuda(SessionOptions options)
    {
        try
        {
            options.AppendExecutionProvider_CUDA(0);
        }
        catch (OnnxRuntimeException e)
        {
            throw new EquivarianceLabException($"--device {CudaName}: {CudaStartFailure(e)}", e);
        }
    }

    /// <summary>One line for an ONNX Runtime failure to start or use CUDA: what is missing, or ONNX Runtime's own first line.</summary>
    public static string CudaStartFailure(Exception e)
    {
        var missing = MissingLibraries();
        if (missing.Count > 0) return MissingLibrariesText(missing);
        return $"ONNX Runtime's CUDA execution provider could not start: {Messages.FirstLine(e.Message, 300)} " +
               "(it needs an NVIDIA GPU with a driver for CUDA 13, and cuDNN 9; see docs/gpu.md).";
    }

    private static string? FindOnnxRuntimeCudaProblem()
    {
        if (!OnnxRuntimeHasCudaProvider())
            return "this build's ONNX Runtime has no CUDA execution provider (the default build is CPU-only; " +
                   "build with -p:EqlabGpu=true, see docs/gpu.md).";
        var missing = MissingLibraries();
        if (missing.Count > 0) return MissingLibrariesText(missing);
        // The libraries load: a session of one node on device 0 finds what remains (no GPU, a driver too old for CUDA 13).
        try
        {
            using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL };
            options.AppendExecutionProvider_CUDA(0);
            using var session = new InferenceSession(OneNodeGraph(), options);
            return null;
        }
        catch (OnnxRuntimeException e)
        {
            return CudaStartFailure(e);
        }
    }

    private static List<(string Library, string What)> MissingLibraries() =>
        OnnxRuntimeCudaLibraries.Where(l => !CanLoad(l.Library)).ToList();

    private static string MissingLibrariesText(List<(string Library, string What)> missing)
    {
        var names = missing.Select(m => m.Library == "libcuda.so.1" ? $"{m.Library} ({m.What})" : m.Library).ToList();
        var list = names.Count == 1 ? names[0] : string.Join(", ", names.Take(names.Count - 1)) + " and " + names[^1];
        return $"ONNX Runtime's CUDA execution provider cannot start: {list} {(names.Count == 1 ? "is" : "are")} not found " +
               "(it needs an NVIDIA GPU and driver, CUDA 13 and cuDNN 9; see docs/gpu.md).";
    }

    private static bool CanLoad(string library)
    {
        if (!NativeLibrary.TryLoad(library, out var handle)) return false;
        // Loaded once to learn that it can be; ONNX Runtime loads it again itself when it starts the provider.
        NativeLibrary.Free(handle);
        return true;
    }

    /// <summary>y = Relu(x) on a float [1]: the smallest graph that makes the CUDA provider start on a device.</summary>
    private static byte[] OneNodeGraph()
    {
        static ValueInfoProto Value(string name) => new()
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor
                {
                    ElemType = (int)TensorProto.Types.DataType.Float,
                    Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimValue = 1 } } },
                },
            },
        };
        var model = new ModelProto
        {
            IrVersion = 8,
            OpsetImport = { new OperatorSetIdProto { Domain = "", Version = 13 } },
            Graph = new GraphProto
            {
                Name = "cuda-check",
                Input = { Value("x") },
                Output = { Value("y") },
                Node = { new NodeProto { OpType = "Relu", Input = { "x" }, Output = { "y" } } },
            },
        };
        return model.ToByteArray();
    }

    // ---- TorchSharp ----

    private static readonly Lazy<string?> TorchProblem = new(FindTorchCudaProblem);

    /// <summary>Why TorchSharp cannot run a module on the GPU here (the text after "--device cuda: "), or null when it can.</summary>
    public static string? TorchCudaProblem() => TorchProblem.Value;

    /// <summary>Throws the one-line failure when <paramref name="device"/> is CUDA and TorchSharp cannot use it.</summary>
    public static void EnsureTorch(ComputeDevice device)
    {
        if (device == ComputeDevice.Cuda && TorchCudaProblem() is { } problem)
            throw new EquivarianceLabException($"--device {CudaName}: {problem}");
    }

    private static string? FindTorchCudaProblem()
    {
        bool available;
        try
        {
            available = TorchSharp.torch.cuda.is_available();
        }
        catch (Exception e) when (e is DllNotFoundException or NotSupportedException or InvalidOperationException or TypeInitializationException)
        {
            return $"TorchSharp could not look for a CUDA device ({Messages.FirstLine(e.Message, 200)}); see docs/gpu.md.";
        }
        if (available) return null;
        // libtorch's CUDA build ships libtorch_cuda.so beside libtorch_cpu.so in the app's folder; the CPU build does not.
        return File.Exists(Path.Combine(AppContext.BaseDirectory, "libtorch_cuda.so"))
            ? "TorchSharp finds no CUDA device (libtorch here is a CUDA build, but no NVIDIA GPU or driver answers; see docs/gpu.md)."
            : "TorchSharp finds no CUDA device (libtorch here is the CPU build libtorch-cpu-linux-x64; a CUDA libtorch " +
              "and an NVIDIA driver are needed, see docs/gpu.md).";
    }
}
