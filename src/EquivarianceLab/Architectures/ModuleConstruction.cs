using TorchSharp;

namespace EquivarianceLab.Architectures;

/// <summary>
/// Builds modules so that the tensors their construction makes and drops (initial values, filters, slices that
/// weights are copied from) are disposed at once instead of being left to the garbage collector.
/// </summary>
/// <remarks>
/// TorchSharp frees an unreferenced tensor in its finalizer, on the finalizer thread, at any moment — also while
/// libtorch is still reading it, because a temporary passed to a native call (<c>w.copy_(tensor(values))</c>) has no
/// managed reference left during that call. That is a use-after-free: a rare segmentation fault of the whole process
/// (seen in the test host). So construction runs in a dispose scope, and only the module's parameters and buffers,
/// which the module owns and disposes, are taken out of it.
/// </remarks>
public static class ModuleConstruction
{
    public static T KeepingOnlyItsTensors<T>(Func<T> build) where T : torch.nn.Module
    {
        using var scope = torch.NewDisposeScope();
        var module = build();
        scope.Detach(module.parameters());
        scope.Detach(module.buffers());
        return module;
    }
}
