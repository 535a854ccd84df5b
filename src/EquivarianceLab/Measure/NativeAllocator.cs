using System.Runtime.InteropServices;

namespace EquivarianceLab.Measure;

/// <summary>
/// glibc keeps freed heap memory and, as large blocks come and go, raises its mmap threshold so that libtorch's
/// per-batch feature maps come from a fragmenting heap: resident memory then grows with the number of images
/// although no tensor is kept (seen: +18% from N to 4N on ResNet-18, with a constant live-tensor count). Trimming
/// the heap returns those pages and keeps memory flat in N; a fixed low mmap threshold did too, but paid page faults
/// on every large tensor (~25% slower). Trimming after every batch paid them too: every batch then faulted its
/// temporaries (the rotated inputs, ONNX Runtime's working memory) in again — on the VMs measured here about 10 µs a
/// page, 11–15% of a measurement's time (docs/performance.md). <see cref="HeapTrimmer"/> trims only when the process
/// has grown.
/// </summary>
public static class NativeAllocator
{
    /// <summary>Returns the heap's free pages to the system (glibc <c>malloc_trim</c>); a no-op elsewhere.</summary>
    public static void ReleaseFreeMemory()
    {
        if (!OperatingSystem.IsLinux() || _unavailable) return;
        try
        {
            malloc_trim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            _unavailable = true; // not glibc (e.g. musl)
        }
    }

    private static bool _unavailable;

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);
}
