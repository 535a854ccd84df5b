using System.Globalization;
using System.Text;

namespace EquivarianceLab.Reports;

/// <summary>
/// The one CSV writer of the project (result files, study tables, the dashboard's downloads): RFC 4180 quoting, invariant
/// numbers that read back exactly ("R"), empty cells for missing values, <c>\n</c> line ends, and text that a
/// spreadsheet would run as a formula neutralised (<see cref="Text"/>). Every non-numeric cell goes through <see cref="Text"/>.
/// </summary>
public sealed class CsvWriter
{
    private readonly StringBuilder _text = new();

    public CsvWriter(string header) => _text.Append(header).Append('\n');

    /// <summary>Appends one row of cells already made with <see cref="Text(string?)"/>, <see cref="Number"/> or <see cref="Int"/>.</summary>
    public CsvWriter Row(params string[] cells)
    {
        _text.AppendJoin(',', cells).Append('\n');
        return this;
    }

    public override string ToString() => _text.ToString();

    /// <summary>
    /// A text cell, quoted when it holds a comma, a quote or a line break. Text starting with a character a spreadsheet
    /// reads as the start of a formula (<c>= + - @</c>, tab, carriage return) gets a leading <c>'</c> (OWASP's CSV
    /// injection advice): names come from users (model, probe set and ONNX tensor names), and a cell such as
    /// <c>=HYPERLINK(…)</c> must open as text. Numbers are written with <see cref="Number"/> and <see cref="Int"/>, so a
    /// negative score stays a number.
    /// </summary>
    public static string Text(string? s)
    {
        s ??= "";
        if (s.Length > 0 && FormulaStarts.Contains(s[0])) s = "'" + s;
        return s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;
    }

    private const string FormulaStarts = "=+-@\t\r";

    /// <summary>A number that reads back to the same double; empty for null.</summary>
    public static string Number(double? v) => v?.ToString("R", CultureInfo.InvariantCulture) ?? "";

    /// <summary>A float as its shortest text that reads back to the same float (0.8123, not 0.81230002641677856).</summary>
    public static string Number(float? v) => v?.ToString("R", CultureInfo.InvariantCulture) ?? "";

    public static string Int(long? v) => v?.ToString(CultureInfo.InvariantCulture) ?? "";
}
