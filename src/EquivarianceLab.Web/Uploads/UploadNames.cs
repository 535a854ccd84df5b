namespace EquivarianceLab.Web.Uploads;

/// <summary>Names that users gave (file names, display names) made safe to store and echo: no control characters, bounded length.</summary>
public static class UploadNames
{
    /// <summary>Longest display name (of a model, family or probe set) a user may give.</summary>
    public const int MaxNameLength = 120;

    /// <summary>The name without control characters, trimmed to <see cref="MaxNameLength"/> characters; null when nothing is left.</summary>
    public static string? CleanName(string? s)
    {
        if (string.IsNullOrWhiteSpace(s)) return null;
        var clean = new string(s.Where(c => !char.IsControl(c)).ToArray()).Trim();
        return clean.Length == 0 ? null : clean.Length > MaxNameLength ? clean[..MaxNameLength] : clean;
    }

    /// <summary>A name a user typed is refused when too long (a file's own name is cut instead: nobody chose it for us).</summary>
    public static void CheckGivenName(string field, string? value)
    {
        if (value is not null && value.Trim().Length > MaxNameLength)
            throw Api.RequestException.Invalid(field, $"{field} must be at most {MaxNameLength} characters (got {value.Trim().Length}).");
    }

    /// <summary>Longest id the app ever makes ("upload-" + 12 hex digits, or a zoo folder name); longer ones name nothing.</summary>
    public const int MaxIdLength = 128;

    /// <summary>An id as it may be echoed in a message: cleaned and cut to 64 characters, so a huge id is not sent back.</summary>
    public static string ShownId(string? id)
    {
        var clean = CleanName(id) ?? "";
        return clean.Length > 64 ? clean[..64] + "…" : clean;
    }

    /// <summary>A file name as it may be shown back: its last segment only, cleaned.</summary>
    public static string SafeName(string s) => CleanName(Path.GetFileName(s)) ?? "?";
}
