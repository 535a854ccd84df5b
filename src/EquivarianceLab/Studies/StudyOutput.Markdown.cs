using System.Globalization;
using System.Text;
using EquivarianceLab.Measure;
using EquivarianceLab.Statistics;

namespace EquivarianceLab.Studies;

/// <summary>
/// <c>NAME.md</c>: the study's table as Markdown, the form the README shows it in, so a report or the README is pasted
/// from the files rather than typed (the test <c>CommittedStudyTablesTests</c> holds the README to the committed files).
/// </summary>
public static partial class StudyOutput
{
    private const string MarkdownHeader =
        "| setting | label | seeds | acc % | Early inv / eqv | Middle inv / eqv | Late inv / eqv | Pool inv / eqv | Final inv / eqv |\n" +
        "|---|---|---|---|---|---|---|---|---|\n";

    /// <summary>
    /// One Markdown table per transform family the settings were measured with (each under an italic caption when the
    /// study has more than one): a row per setting with its number of seeds, the card accuracy and each part's
    /// <c>inv / eqv</c>, every value the mean across the seeds to two decimals, followed by <c>± sd</c> where there
    /// are two seeds or more; <c>—</c> where there is no value.
    /// </summary>
    public static string MarkdownTable(StudyDefinition study, IReadOnlyList<SettingSummary> settings)
    {
        ArgumentNullException.ThrowIfNull(study);
        ArgumentNullException.ThrowIfNull(settings);
        var tables = TablesOf(study, settings);
        var sb = new StringBuilder();
        foreach (var (m, rows) in tables)
        {
            if (sb.Length > 0) sb.Append('\n');
            if (tables.Count > 1) sb.Append('*').Append(m.TransformName).Append("*\n\n");
            sb.Append(MarkdownHeader);
            foreach (var s in rows)
            {
                sb.Append("| ").Append(MarkdownCode(s.Setting)).Append(" | ").Append(MarkdownText(s.Label)).Append(" | ")
                    .Append(s.N.ToString(CultureInfo.InvariantCulture)).Append(" | ").Append(MarkdownValue(s.Accuracy));
                foreach (var part in Parts.All)
                {
                    sb.Append(" | ");
                    if (s.Parts.GetValueOrDefault(part) is { } spread)
                        sb.Append(MarkdownValue(spread.Invariance)).Append(" / ").Append(MarkdownValue(spread.Equivariance));
                    else
                        sb.Append('—');
                }
                sb.Append(" |\n");
            }
        }
        return sb.ToString();
    }

    /// <summary><c>0.57</c> for one seed, <c>0.57 ± 0.02</c> for several, <c>—</c> without a value.</summary>
    private static string MarkdownValue(SampleSpread spread)
    {
        if (spread.Mean is not double mean) return "—";
        var text = TwoDecimals(mean);
        return spread.Sd is double sd ? text + " ± " + TwoDecimals(sd) : text;
    }

    /// <summary>A tiny negative score is <c>0.00</c>, not <c>-0.00</c>.</summary>
    private static string TwoDecimals(double value)
    {
        var text = value.ToString("0.00", CultureInfo.InvariantCulture);
        return text == "-0.00" ? "0.00" : text;
    }

    /// <summary>A model id as code; an id that a code span cannot hold (a backtick, a pipe, a line break) as escaped text.</summary>
    private static string MarkdownCode(string text) =>
        text.AsSpan().IndexOfAny("`|\r\n") < 0 && text.Length > 0 ? "`" + text + "`" : MarkdownText(text);

    /// <summary>
    /// Text in a table cell: Markdown's punctuation escaped with a backslash (so a label cannot end the cell, open a
    /// link or inline HTML), line breaks as spaces.
    /// </summary>
    private static string MarkdownText(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var ch in text)
        {
            if (ch is '\r' or '\n') sb.Append(' ');
            else if ("\\`*_{}[]()<>#+!|~&".Contains(ch)) sb.Append('\\').Append(ch);
            else sb.Append(ch);
        }
        return sb.ToString();
    }
}
