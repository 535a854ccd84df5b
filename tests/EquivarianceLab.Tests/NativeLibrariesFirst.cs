using System.Runtime.CompilerServices;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;

namespace EquivarianceLab.Tests;

/// <summary>
/// Loads libtorch and ONNX Runtime once, on one thread, before any test runs — as every eqlab process does at its start.
/// xUnit runs test classes side by side, so without this several threads made their first calls into both libraries at
/// once; one CI run's test host died that way a second in (the kernel log: a thread-pool thread calling address 0,
/// while the classes that first load the libraries were starting), and the next run of the same commit passed.
/// </summary>
internal static class NativeLibrariesFirst
{
#pragma warning disable CA2255 // a test assembly's initializer is the point: it runs before any test touches the libraries
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Load()
    {
        using (torch.no_grad())
        using (var one = torch.ones(1))
        using (var sum = one.sum())
            _ = sum.item<float>();
        _ = OrtEnv.Instance();
    }
}
