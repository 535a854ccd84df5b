namespace EquivarianceLab.Web.Uploads;

/// <summary>Names that users gave (file names, display names) made safe to store and echo: no control characters, bounded length.</summary>
public static class UploadNames
{
    /// <summary>The name without control characters, trimmed to 120 characters; null when nothing is left.</summary>
    public static string? CleanName(string? s)
    {
        if (string.IsNullOrWhiteSpace(s)) return null;
        var clean = new string(s.Where(c => !char.IsControl(c)).ToArray()).Trim();
        return clean.Length == 0 ? null : clean.Length > 120 ? clean[..120] : clean;
    }

    /// <summary>A file name as it may be shown back: its last segment only, cleaned.</summary>
    public static string SafeName(string s) => CleanName(Path.GetFileName(s)) ?? "?";
}
