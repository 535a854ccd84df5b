namespace EquivarianceLab;

/// <summary>Error text as people see it: the first line of a message (native libraries append stack traces and dumps below it).</summary>
public static class Messages
{
    /// <summary>The first line, trimmed, cut to <paramref name="maxLength"/> characters with an ellipsis; empty when there is none.</summary>
    public static string FirstLine(string? message, int maxLength = 400)
    {
        var line = (message ?? "").ReplaceLineEndings("\n").Split('\n', 2)[0].Trim();
        return line.Length > maxLength ? line[..maxLength] + "…" : line;
    }
}
