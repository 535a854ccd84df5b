using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EquivarianceLab;

/// <summary>
/// Process-wide native settings, applied when this assembly loads — before libtorch does.
/// libtorch's OpenMP threads spin after each parallel region by default; beside ONNX Runtime's own thread pool on
/// 2 cores that spinning made the measure's tensor work ~10× slower (seen: 30 s instead of 3 s on ResNet-18).
/// A passive wait policy removes it. A user's own OMP_WAIT_POLICY wins.
/// </summary>
internal static class NativeRuntime
{
#pragma warning disable CA2255 // a library initializer is the point: it must run before any caller touches libtorch
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Configure()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null) setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    [DllImport("libc", EntryPoint = "setenv", CharSet = CharSet.Ansi)]
    private static extern int setenv(string name, string value, int overwrite);
}
