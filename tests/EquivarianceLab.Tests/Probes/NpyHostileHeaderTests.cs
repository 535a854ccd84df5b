using System.Diagnostics;
using EquivarianceLab.Probes;
using static EquivarianceLab.Tests.Probes.NpyTestFiles;
using static EquivarianceLab.Tests.Probes.ProbeTestFiles;

namespace EquivarianceLab.Tests.Probes;

/// <summary>Hand-built hostile .npy headers: each is refused quickly with a clear message, never a crash or a huge allocation.</summary>
public class NpyHostileHeaderTests
{
    [Fact]
    public void A_tuple_nested_twenty_thousand_deep_is_refused_not_a_stack_overflow()
    {
        using var dir = new TempFolder();
        var path = dir.File("deep.npy");
        // ≈40 KB: a recursive parser overflowed the stack here, which kills the process (no catch can stop it).
        WriteRaw(path, 2, Dict(new string('(', 20_000) + new string(')', 20_000)), []);

        var clock = Stopwatch.StartNew();
        var e = Fails(() => NpyProbeSet.Open(path));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"took {clock.Elapsed}");
        Assert.Equal("deep.npy has a corrupt .npy header (it nests deeper than 32 levels).", e.Message);
    }

    [Fact]
    public void Nesting_up_to_the_limit_parses()
    {
        using var dir = new TempFolder();
        var path = dir.File("nested.npy");
        // The dict is level 1, so 31 tuples around the value make 32 levels: allowed; one more is refused.
        WriteRaw(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1), 'x': " + new string('(', 31) + new string(')', 31) + "}", [1f]);
        using (var probe = NpyProbeSet.Open(path)) Assert.Equal(1, probe.Count);

        WriteRaw(path, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1), 'x': " + new string('(', 32) + new string(')', 32) + "}", [1f]);
        Assert.Contains("nests deeper than 32 levels", Fails(() => NpyProbeSet.Open(path)).Message);
    }

    [Fact]
    public void A_structured_dtype_nests_a_few_levels_and_gets_its_own_message()
    {
        using var dir = new TempFolder();
        var path = dir.File("record.npy");
        WriteRaw(path, 1, "{'descr': [('pixels', '<f4', (2, 2)), ('label', '<i8')], 'fortran_order': False, 'shape': (1,), }", new float[6]);
        Assert.Contains("structured dtype", Fails(() => NpyProbeSet.Open(path)).Message);
    }

    [Fact]
    public void A_header_over_64_KiB_is_refused_before_it_is_read()
    {
        using var dir = new TempFolder();
        var path = dir.File("long.npy");
        WriteRaw(path, 2, Dict("(1, 1, 1, 1)") + new string(' ', 70_000), [1f]);
        var e = Fails(() => NpyProbeSet.Open(path));
        Assert.Equal("long.npy has a .npy header of 70068 bytes; headers over 65536 bytes are refused (numpy writes a few hundred).", e.Message);

        // A 12-byte file whose version 2 header claims the format's maximum, 4 GiB.
        var claims = dir.File("claims.npy");
        File.WriteAllBytes(claims, [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 2, 0, 0xFF, 0xFF, 0xFF, 0xFF]);
        Assert.Contains("4294967295 bytes", Fails(() => NpyProbeSet.Open(claims)).Message);
    }

    [Fact]
    public void An_absurd_shape_is_refused_against_the_files_real_length_without_allocating()
    {
        using var dir = new TempFolder();
        var path = dir.File("absurd.npy");
        WriteRaw(path, 1, Dict("(1000000000000, 1, 28, 28)"), new float[784]);

        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var e = Fails(() => NpyProbeSet.Open(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 1 << 20, "opening allocated more than 1 MiB");
        Assert.Equal("absurd.npy is truncated: shape (1000000000000, 1, 28, 28) needs 3136000000000000 bytes of float32 data but the file holds 3136.", e.Message);

        // The brief's (10**12, 28, 28) is rank 3, and a shape whose byte count overflows is impossible.
        WriteRaw(path, 1, Dict("(1000000000000, 28, 28)"), []);
        Assert.Contains("rank-4", Fails(() => NpyProbeSet.Open(path)).Message);
        WriteRaw(path, 1, Dict("(4611686018427387904, 4611686018427387904, 1, 1)"), []);
        Assert.Contains("impossible shape", Fails(() => NpyProbeSet.Open(path)).Message);
        WriteRaw(path, 1, Dict("(99999999999999999999999, 1, 1, 1)"), []);
        Assert.Contains("corrupt .npy header", Fails(() => NpyProbeSet.Open(path)).Message);
    }

    [Theory]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1), ")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1)]")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1), 'x': }")]
    [InlineData("{'descr' '<f4'}")]
    [InlineData("{('descr',): '<f4'}")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1)} extra")]
    [InlineData("('descr', '<f4')")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (,)}")]
    [InlineData("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1, 1, 1, 1)}")]
    public void Malformed_headers_are_corrupt_not_crashes(string dict)
    {
        using var dir = new TempFolder();
        var path = dir.File("bad.npy");
        WriteRaw(path, 1, dict, [1f]);
        Assert.StartsWith("bad.npy has a corrupt .npy header (", Fails(() => NpyProbeSet.Open(path)).Message);
    }
}
