using EquivarianceLab.Measure;

namespace EquivarianceLab.Tests.Measure;

/// <summary>
/// When a run of batches trims the heap: not after the first batch (its temporaries are what later batches reuse),
/// not while the process stays within the slack of that size, and as soon as it outgrows it — then against what the
/// trim could not return. Resident sizes are given by hand; one test reads this process's own working set.
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

    [Fact]
    public void The_working_set_it_reads_by_default_follows_resident_memory()
    {
        long before = Environment.WorkingSet;
        // Touching 64 MiB of fresh memory makes it resident: the reading grows by about that much.
        var block = GC.AllocateUninitializedArray<byte>(64 << 20, pinned: true);
        for (int i = 0; i < block.Length; i += 4096) block[i] = 1;
        long after = Environment.WorkingSet;
        GC.KeepAlive(block);
        Assert.InRange(after - before, 48L << 20, 256L << 20);
    }
}
