using System.Globalization;
using System.Text;

namespace EquivarianceLab.Reports;

/// <summary>
/// The one CSV writer of the project (result files, study tables, the dashboard's downloads): RFC 4180 quoting, invariant
/// numbers that read back exactly ("R"), empty cells for missing values, <c>\n</c> line ends.
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

    /// <summary>A text cell, quoted when it holds a comma, a quote or a line break.</summary>
    public static string Text(string? s)
    {
        s ??= "";
        return s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;
    }

    /// <summary>A number that reads back to the same double; empty for null.</summary>
    public static string Number(double? v) => v?.ToString("R", CultureInfo.InvariantCulture) ?? "";

    public static string Int(long? v) => v?.ToString(CultureInfo.InvariantCulture) ?? "";
}
