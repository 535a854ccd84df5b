using System.Runtime.InteropServices;

namespace EquivarianceLab.Measure;

/// <summary>
/// glibc keeps freed heap memory and, as large blocks come and go, raises its mmap threshold so that libtorch's
/// per-batch feature maps come from a fragmenting heap: resident memory then grows with the number of images
/// although no tensor is kept (seen: +18% from N to 4N on ResNet-18, with a constant live-tensor count). Trimming
/// the heap returns those pages and keeps memory flat in N; a fixed low mmap threshold did too, but paid page faults
/// on every large tensor (~25% slower). Trimming after every batch paid them too: every batch then faulted its
/// temporaries (the rotated inputs, ONNX Runtime's working memory) in again — on the VMs measured here about 10 µs a
/// page, 11–15% of a measurement's time (README, "Performance"). <see cref="HeapTrimmer"/> trims only when the process
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

    /// <summary>This process's resident memory in bytes (Linux: <c>/proc/self/statm</c>); 0 where it cannot be read.</summary>
    public static long ResidentBytes()
    {
        if (!OperatingSystem.IsLinux()) return 0;
        try
        {
            var fields = File.ReadAllText("/proc/self/statm").Split(' ');
            return long.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) * Environment.SystemPageSize;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 0;
        }
    }

    private static bool _unavailable;

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int malloc_trim(nuint pad);
}

/// <summary>
/// When to trim the heap in a run of batches: after each batch, only if the process has grown by more than
/// <see cref="Slack"/> since its first batch (or since the last trim, if that left it larger). The first batch's
/// temporaries stay resident and are reused by every later batch; what fragmentation adds is returned before it
/// amounts to more than the slack, so memory stays flat in N. Where resident memory cannot be read, every batch trims.
/// </summary>
public sealed class HeapTrimmer(double slack = HeapTrimmer.DefaultSlack, Func<long>? residentBytes = null, Action? trim = null)
{
    /// <summary>
    /// 2%: the peak of 4N images then stayed within a few percent of N's on the 64×64 ResNet-18 (+0.4% and +3.0% in two
    /// `eqlab bench` processes, against +0.7% and +4.7% trimming after every batch).
    /// </summary>
    public const double DefaultSlack = 0.02;

    private readonly Func<long> _resident = residentBytes ?? NativeAllocator.ResidentBytes;
    private readonly Action _trim = trim ?? NativeAllocator.ReleaseFreeMemory;
    private long _baseline;

    public double Slack { get; } = slack;

    /// <summary>How many times this run has trimmed.</summary>
    public int Trims { get; private set; }

    /// <summary>Called after each batch: trims when the process has outgrown its baseline by more than the slack.</summary>
    public void AfterBatch()
    {
        long now = _resident();
        if (now <= 0)
        {
            _trim();
            Trims++;
            return;
        }
        if (_baseline == 0)
        {
            _baseline = now;
            return;
        }
        if (now <= _baseline * (1 + Slack)) return;
        _trim();
        Trims++;
        // What a trim cannot return is live (e.g. the vector layers' values, which grow with N): the new baseline.
        _baseline = Math.Max(_baseline, _resident());
    }
}
