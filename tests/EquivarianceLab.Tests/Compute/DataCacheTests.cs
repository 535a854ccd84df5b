using EquivarianceLab.Compute;

namespace EquivarianceLab.Tests.Compute;

/// <summary>The L1 data cache size the similarity kernel cuts its chunks to: sysfs's notation, and this machine's own.</summary>
public sealed class DataCacheTests
{
    [Theory]
    [InlineData("32K", 32 * 1024)]
    [InlineData("48K\n", 48 * 1024)]
    [InlineData("49152", 49152)]
    [InlineData("1M", 1024 * 1024)]
    [InlineData("2K", null)]     // no L1 this small: a misread file
    [InlineData("8M", null)]     // nor this large
    [InlineData("", null)]
    [InlineData("32 KiB", null)]
    [InlineData("-32K", null)]
    public void Reads_sysfs_sizes_and_refuses_anything_else(string text, int? bytes) =>
        Assert.Equal(bytes, DataCache.ParseSize(text));

    [Fact]
    public void This_machine_reports_its_own_L1_data_cache_or_the_fallback()
    {
        const string caches = "/sys/devices/system/cpu/cpu0/cache";
        int? expected = null;
        if (Directory.Exists(caches))
            foreach (var index in Directory.GetDirectories(caches, "index*"))
                if (File.ReadAllText(Path.Combine(index, "level")).Trim() == "1" && File.ReadAllText(Path.Combine(index, "type")).Trim() == "Data")
                    expected = DataCache.ParseSize(File.ReadAllText(Path.Combine(index, "size")));
        Assert.Equal(expected ?? DataCache.FallbackL1Bytes, DataCache.L1Bytes);
    }
}
