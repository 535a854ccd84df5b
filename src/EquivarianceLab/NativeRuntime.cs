using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EquivarianceLab;

/// <summary>
/// Process-wide native settings, applied when this assembly loads — before any of its code runs a tensor operation.
/// <list type="bullet">
/// <item>libtorch's OpenMP threads spin after each parallel region by default; beside ONNX Runtime's own thread pool
/// on 2 cores that spinning made the measure's tensor work ~10× slower (seen: 30 s instead of 3 s on ResNet-18). A
/// passive wait policy removes it. A user's own OMP_WAIT_POLICY wins. It must be set before libgomp loads, so it
/// comes first.</item>
/// <item>libtorch's oneDNN (mkldnn) convolutions are switched off: PyTorch's own convolution (im2col + GEMM) runs
/// instead. The oneDNN path of libtorch 2.10 lays channels out in blocks of 16 floats (AVX-512) or 8 (AVX2) and, when
/// a channel count is not a multiple of the block (the 7-layer CNN's 20 channels, a test net's 6), the padding of
/// those blocks is not reliably zero: a convolution then returns NaN or wrong finite values in some calls and not in
/// others, depending on what the heap held before (seen on this project's machines: a 24-channel 3×3 convolution gave
/// NaN in 298 of 300 identical calls, a 20-channel one in 14 of 100). Features, scores and accuracies of such models
/// were neither repeatable nor right (docs/measure.md, "Exact convolutions"). PyTorch's own path has no padded
/// layouts, gives the same bits every call, and was as fast or faster on these small maps. NNPACK, PyTorch's next
/// choice for batches of 16 or more, is switched off too: it refuses this machine's processor with a warning on every
/// call, and where it does run it would be a third code path whose numbers differ from the other machines'.</item>
/// </list>
/// </summary>
public static class NativeRuntime
{
    private static string? _convolutionProblem;

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
        _convolutionProblem = DisableOneDnn();
    }

    /// <summary>Whether libtorch runs its own exact convolutions rather than oneDNN's (see the class summary).</summary>
    public static bool ExactConvolutions => _convolutionProblem is null;

    /// <summary>
    /// Throws when oneDNN convolutions could not be switched off: a TorchSharp model would then give numbers that
    /// change from call to call. Called wherever the project builds a TorchSharp network.
    /// </summary>
    public static void EnsureExactConvolutions()
    {
        if (_convolutionProblem is not null)
            throw new EquivarianceLabException(
                $"libtorch's oneDNN convolutions could not be switched off ({_convolutionProblem}); they give NaN or wrong " +
                "values for channel counts that are not a multiple of 16, so TorchSharp models are not measured.");
    }

    /// <summary>Whether libtorch would use oneDNN convolutions now (false except inside <see cref="UseOneDnnConvolutions"/>).</summary>
    public static bool OneDnnEnabled => ExactConvolutions && at_Context_userEnabledMkldnn(at_globalContext());

    /// <summary>
    /// Switches oneDNN convolutions back on for the whole process until the returned scope is disposed. Only for work
    /// whose every convolution is one oneDNN computes reliably (<see cref="Training.TrainingConvolutions"/>): training
    /// ResNets takes 6× as long in PyTorch's own kernel. Process-wide, so nothing else may run tensors meanwhile —
    /// <c>eqlab train</c> is a process of its own. Scopes do not nest.
    /// </summary>
    public static IDisposable UseOneDnnConvolutions()
    {
        EnsureExactConvolutions();
        if (OneDnnEnabled) throw new InvalidOperationException("oneDNN convolutions are already switched on.");
        at_Context_setUserEnabledMkldnn(at_globalContext(), true);
        return new OneDnnScope();
    }

    private sealed class OneDnnScope : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            at_Context_setUserEnabledMkldnn(at_globalContext(), false);
        }
    }

    /// <summary>
    /// <c>at::globalContext().setUserEnabledMkldnn(false)</c> and <c>…NNPACK(false)</c> — what
    /// <c>torch.backends.mkldnn.enabled = False</c> and <c>torch.backends.nnpack.set_flags(False)</c> do in Python. TorchSharp 0.107 has no binding for it, so libtorch's exported C++ functions are called directly (Itanium
    /// ABI: the member function takes the context as its first argument). Returns null on success, else why not.
    /// </summary>
    private static string? DisableOneDnn()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
            return $"no libtorch binding for {RuntimeInformation.RuntimeIdentifier}";
        try
        {
            var context = at_globalContext();
            at_Context_setUserEnabledMkldnn(context, false);
            at_Context_setUserEnabledNNPACK(context, false);
            return at_Context_userEnabledMkldnn(context) ? "the setting did not take" : null;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            return e.GetType().Name;
        }
    }

    [DllImport("libc", EntryPoint = "setenv", CharSet = CharSet.Ansi)]
    private static extern int setenv(string name, string value, int overwrite);

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at13globalContextEv")]
    private static extern IntPtr at_globalContext();

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledMkldnnEb")]
    private static extern void at_Context_setUserEnabledMkldnn(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport("libtorch_cpu", EntryPoint = "_ZN2at7Context20setUserEnabledNNPACKEb")]
    private static extern void at_Context_setUserEnabledNNPACK(IntPtr context, [MarshalAs(UnmanagedType.U1)] bool enabled);

    [DllImport("libtorch_cpu", EntryPoint = "_ZNK2at7Context17userEnabledMkldnnEv")]
    [return: MarshalAs(UnmanagedType.U1)]
    private static extern bool at_Context_userEnabledMkldnn(IntPtr context);
}
