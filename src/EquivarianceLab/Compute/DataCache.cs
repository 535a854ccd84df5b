using System.Globalization;

namespace EquivarianceLab.Compute;

/// <summary>
/// The size of one core's first-level data cache, which the similarity kernel cuts its chunks of the reference to.
/// Linux reports it in sysfs; where it cannot be read, 32 KiB — the smallest on the x64 cores this project has been
/// measured on (AMD Zen 1–3 have 32 KiB; Intel's recent cores and Zen 5 have 48 KiB).
/// </summary>
public static class DataCache
{
    public const int FallbackL1Bytes = 32 * 1024;

    public static int L1Bytes { get; } = ReadL1() ?? FallbackL1Bytes;

    private static int? ReadL1()
    {
        const string caches = "/sys/devices/system/cpu/cpu0/cache";
        try
        {
            if (!Directory.Exists(caches)) return null;
            foreach (var index in Directory.EnumerateDirectories(caches, "index*"))
            {
                string Field(string name) => File.ReadAllText(Path.Combine(index, name)).Trim();
                if (Field("level") == "1" && Field("type") == "Data") return ParseSize(Field("size"));
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return null;
    }

    /// <summary>A sysfs cache size ("32K", "1M", "49152") in bytes; null for anything else or an implausible L1 (under 4 KiB, over 4 MiB).</summary>
    public static int? ParseSize(string text)
    {
        text = text.Trim();
        int unit = 1;
        if (text.EndsWith('K')) (unit, text) = (1024, text[..^1]);
        else if (text.EndsWith('M')) (unit, text) = (1024 * 1024, text[..^1]);
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value)) return null;
        long bytes = (long)value * unit;
        return bytes is >= 4096 and <= 4 * 1024 * 1024 ? (int)bytes : null;
    }
}
