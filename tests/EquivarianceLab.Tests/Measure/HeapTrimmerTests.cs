using EquivarianceLab.Measure;

namespace EquivarianceLab.Tests.Measure;

/// <summary>
/// When a run of batches trims the heap: not after the first batch (its temporaries are what later batches reuse),
/// not while the process stays within the slack of that size, and as soon as it outgrows it — then against what the
/// trim could not return. Resident sizes are given by hand (the working set it reads by default: HeapTrimmerWorkingSetTests).
/// </summary>
public sealed class HeapTrimmerTests
{
    [Fact]
    public void Trims_only_when_the_process_has_outgrown_its_first_batch_by_more_than_the_slack()
    {
        long resident = 1000;
        var trims = new List<long>();
        var heap = new HeapTrimmer(0.02, () => resident, () => { trims.Add(resident); resident = Math.Min(resident, 1010); });

        heap.AfterBatch(); // baseline 1000
        resident = 1020;   // exactly 2% more: within
        heap.AfterBatch();
        Assert.Empty(trims);

        resident = 1021;   // more than 2%: trimmed, back to 1010
        heap.AfterBatch();
        Assert.Equal([1021L], trims);
        Assert.Equal(1, heap.Trims);

        // The trim left 1010 (live growth): the new baseline, so 1030 is within 2% of it and 1031 is not.
        resident = 1030;
        heap.AfterBatch();
        Assert.Single(trims);
        resident = 1031;
        heap.AfterBatch();
        Assert.Equal(2, heap.Trims);
    }

    [Fact]
    public void A_trim_that_returns_everything_keeps_the_first_baseline()
    {
        long resident = 500;
        var heap = new HeapTrimmer(0.1, () => resident, () => resident = 400);
        heap.AfterBatch();          // baseline 500
        resident = 600;
        heap.AfterBatch();          // trimmed to 400: the baseline stays 500
        Assert.Equal(1, heap.Trims);
        resident = 550;             // within 10% of 500
        heap.AfterBatch();
        Assert.Equal(1, heap.Trims);
    }

    [Fact]
    public void Where_resident_memory_cannot_be_read_every_batch_trims()
    {
        int trims = 0;
        var heap = new HeapTrimmer(0.02, () => 0, () => trims++);
        for (int i = 0; i < 3; i++) heap.AfterBatch();
        Assert.Equal(3, trims);
    }
}

/// <summary>
/// The working set <see cref="HeapTrimmer"/> reads by default is the resident size the kernel reports for this process
/// (<c>VmRSS</c> in <c>/proc/self/status</c>), read just before and after it. It reads the whole process, so it runs
/// alone. (It used to look for the growth of touching 64 MiB, which parallel tests' allocations and the GC's own
/// decommits moved by more than that growth's slack: 47.6 MiB seen where 48 was the least accepted.)
/// </summary>
[CollectionDefinition(nameof(HeapTrimmerWorkingSetTests), DisableParallelization = true)]
public sealed class HeapTrimmerWorkingSetCollection;

[Collection(nameof(HeapTrimmerWorkingSetTests))]
public sealed class HeapTrimmerWorkingSetTests
{
    [Fact]
    public void The_working_set_it_reads_by_default_is_the_resident_size_the_kernel_reports()
    {
        // 64 MiB made resident first, so that a reading of anything else (virtual size, the GC heap) would be far off.
        var block = GC.AllocateUninitializedArray<byte>(64 << 20, pinned: true);
        for (int i = 0; i < block.Length; i += 4096) block[i] = 1;
        long before = KernelResident();
        long read = Environment.WorkingSet;
        long after = KernelResident();
        GC.KeepAlive(block);
        const long slack = 4L << 20;
        Assert.InRange(read, Math.Min(before, after) - slack, Math.Max(before, after) + slack);
        Assert.True(read > 64L << 20, $"a working set of {read} bytes cannot hold the 64 MiB just touched");
    }

    private static long KernelResident()
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }
}
