namespace EquivarianceLab.Web.Results;

/// <summary>Run lists in share links (<c>compare?runs=3,5,7</c>).</summary>
public static class RunIds
{
    /// <summary>Parses "3,5,7" (the share links' run lists); ignores anything that is not a positive id.</summary>
    public static List<int> ParseIds(string? text) =>
        (text ?? "").Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries)
            .Select(s => int.TryParse(s, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) ? id : 0)
            .Where(id => id > 0).Distinct().Take(200).ToList();

    public static string FormatIds(IEnumerable<int> ids) => string.Join(',', ids);
}
