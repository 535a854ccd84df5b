using System.Globalization;
using EquivarianceLab.Measure;

namespace EquivarianceLab.Web.Components.Shared;

/// <summary>Number and time formats shared by the pages (invariant culture: results read the same for everyone).</summary>
public static class Fmt
{
    public static string Score(double? v) => v?.ToString("0.000", CultureInfo.InvariantCulture) ?? "—";
    /// <summary>What "±" means wherever a table shows it (a column's tooltip).</summary>
    public const string PlusMinus = "± is the half-width of the 95% interval over the probe images";

    /// <summary>"0.620 ± 0.012": the score and its 95% interval's half-width over probe images (the score alone without one).</summary>
    public static string Score(double? v, Interval? interval) =>
        v is { } value && interval is { } i ? $"{Score(value)} ± {Score(i.HalfWidthAround(value))}" : Score(v);
    public static string Pct(double? v) => v is null ? "—" : v.Value.ToString("0.##", CultureInfo.InvariantCulture) + " %";
    public static string P(double? v) => v switch
    {
        null => "—",
        < 0.001 => v.Value.ToString("0.0e0", CultureInfo.InvariantCulture),
        _ => v.Value.ToString("0.000", CultureInfo.InvariantCulture),
    };
    public static string Eta(double? seconds) => seconds switch
    {
        null => "",
        < 60 => $"{seconds:0} s",
        < 3600 => $"{Math.Floor(seconds.Value / 60):0} min {seconds.Value % 60:0} s",
        _ => $"{Math.Floor(seconds.Value / 3600):0} h {Math.Floor(seconds.Value % 3600 / 60):0} min",
    };
    /// <summary>"1 run", "3 runs".</summary>
    public static string Count(int n, string noun) => n.ToString(CultureInfo.InvariantCulture) + " " + (n == 1 ? noun : noun + "s");

    public static string When(DateTime? utc) => utc?.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture) + (utc is null ? "" : " UTC");
}
