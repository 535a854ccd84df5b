using System.Globalization;
using System.Text;

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

    /// <summary>Why a file could not be opened, without the exception's message (it repeats the server path).</summary>
    internal static string FileProblem(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "it does not exist",
        UnauthorizedAccessException => "permission denied",
        _ => "it cannot be read",
    };

    /// <summary>
    /// A name taken from an uploaded file (a zip entry, an ONNX node or input) made safe to quote in a message: control
    /// and invisible formatting characters (line breaks, bidirectional overrides) become '?', and it is cut to
    /// <paramref name="maxLength"/> characters, so a hostile name can neither forge extra lines nor flood the log.
    /// </summary>
    public static string Untrusted(string? name, int maxLength = 100)
    {
        if (string.IsNullOrEmpty(name)) return "";
        var cut = name.Length > maxLength ? name[..maxLength] : name;
        var text = new StringBuilder(cut.Length + 1);
        foreach (var c in cut)
        {
            var category = char.GetUnicodeCategory(c);
            text.Append(category is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator
                or UnicodeCategory.ParagraphSeparator or UnicodeCategory.Surrogate ? '?' : c);
        }
        if (name.Length > maxLength) text.Append('…');
        return text.ToString();
    }
}
