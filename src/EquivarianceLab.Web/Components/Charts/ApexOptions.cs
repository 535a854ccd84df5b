using System.Text.Json;
using System.Text.Json.Serialization;
using EquivarianceLab.Measure;

namespace EquivarianceLab.Web.Components.Charts;

/// <summary>
/// A named series of values (null = no value: a gap, not zero), optionally with each value's 95% interval, which a
/// bar chart draws as error bars and a line chart as a band.
/// </summary>
public sealed record Series(string Name, IReadOnlyList<double?> Data)
{
    public IReadOnlyList<Interval?>? Intervals { get; init; }
    /// <summary>False when there are no intervals, or none but nulls (a result from before they were measured).</summary>
    public bool HasIntervals => Intervals?.Any(i => i is not null) == true;
}

/// <summary>A scatter point with the label shown in its tooltip.</summary>
public sealed record Point(double X, double? Y, string Name)
{
    /// <summary>The value's 95% interval, drawn as an error bar on a line chart.</summary>
    public Interval? Interval { get; init; }
}

public sealed record PointSeries(string Name, IReadOnlyList<Point> Data);

/// <summary>
/// Builds ApexCharts option objects for the app's charts, as plain data: the JS module only adds formatters.
/// Every chart has the toolbar's PNG/SVG download on, named after the chart.
/// </summary>
public static class ApexOptions
{
    public static readonly string InvarianceColor = "#3559a8", EquivarianceColor = "#d9822b";
    private static readonly string[] Palette = ["#3559a8", "#d9822b", "#2a9d8f", "#c0392b", "#8e44ad", "#7f8c8d", "#27ae60", "#e84393", "#2d3436", "#fdcb6e"];

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string Serialize(object options) => JsonSerializer.Serialize(options, options.GetType(), Json);

    public static string Color(int i) => Palette[i % Palette.Length];

    private static object Chart(string type, string file, int height, bool stacked = false) => new
    {
        type,
        height,
        stacked,
        animations = new { enabled = false },
        fontFamily = "Roboto, Helvetica, Arial, sans-serif",
        toolbar = new
        {
            show = true,
            tools = new { download = true, selection = false, zoom = false, zoomin = false, zoomout = false, pan = false, reset = false },
            export = new { svg = new { filename = file }, png = new { filename = file }, csv = new { filename = file } },
        },
        zoom = new { enabled = false },
    };

    /// <summary>
    /// Room beside the plot for the first and last category labels, which ApexCharts centres on the outermost points
    /// of a line chart and would otherwise cut off at the edges of the SVG.
    /// </summary>
    private static readonly object LineGrid = new { padding = new { left = 16, right = 32 } };

    private static object YAxis(string title, double? min, double? max) => new { title = new { text = title }, min, max, forceNiceScale = min is null };

    /// <summary>
    /// Grouped bars: one group per category, one bar per series (the run's parts; Compare; the ρ chart). ApexCharts
    /// cannot mix bars with range series, so series' intervals travel as a hint and ApexChart.razor.js draws them as
    /// error bars (whiskers with caps) on the bars; <paramref name="subtitle"/> says what the whiskers are.
    /// </summary>
    public static object Bars(string file, string title, IReadOnlyList<object> categories, IReadOnlyList<Series> series, string yTitle,
        double? yMin = null, double? yMax = null, IReadOnlyList<string>? colors = null, bool dataLabels = false, int height = 340,
        string? subtitle = null) => new
    {
        chart = Chart("bar", file, height),
        title = new { text = title, align = "left" },
        subtitle = subtitle is null ? null : new { text = subtitle, align = "left" },
        series = series.Select(s => new { name = s.Name, data = s.Data }).ToArray(),
        xaxis = new { categories },
        yaxis = new[] { YAxis(yTitle, yMin, yMax) },
        colors = colors ?? series.Select((_, i) => Color(i)).ToArray(),
        // Labels sit above the bars (below for negative values) so short bars stay readable; upright, so that
        // neighbouring bars' labels do not run into each other.
        plotOptions = new { bar = new { horizontal = false, columnWidth = series.Count > 4 ? "85%" : "60%", dataLabels = new { position = "top", orientation = "vertical" } } },
        dataLabels = new { enabled = dataLabels, offsetY = -8, style = new { fontSize = "10px", colors = new[] { "#333" } } },
        legend = new { position = "top" },
        noData = new { text = "No data" },
        eqlab = new { decimals = 3, errorBars = ErrorBars(series) },
    };

    /// <summary>
    /// Lines over named categories (per-layer scores, score against transform). Series' intervals are drawn as error
    /// bars through the points, as on bar charts (ApexChart.razor.js).
    /// </summary>
    public static object Lines(string file, string title, IReadOnlyList<string> categories, IReadOnlyList<Series> series, string xTitle, string yTitle,
        double? yMin = null, double? yMax = null, IReadOnlyList<string>? colors = null, IReadOnlyList<int>? dashes = null, int height = 340) => new
    {
        chart = Chart("line", file, height),
        title = new { text = title, align = "left" },
        series = series.Select(s => new { name = s.Name, data = s.Data }).ToArray(),
        xaxis = new { categories, title = new { text = xTitle }, labels = new { rotate = -45, hideOverlappingLabels = true, trim = true } },
        yaxis = new[] { YAxis(yTitle, yMin, yMax) },
        colors = colors ?? series.Select((_, i) => Color(i)).ToArray(),
        stroke = new { width = 2, curve = "straight", dashArray = dashes },
        markers = new { size = 3 },
        grid = LineGrid,
        legend = new { position = "top" },
        noData = new { text = "No data" },
        eqlab = new { decimals = 3, errorBars = ErrorBars(series) },
    };

    /// <summary>The whiskers' hint: per series, per point, [low, high] or null; null when no series has intervals.</summary>
    private static object?[]? ErrorBars(IReadOnlyList<Series> series) =>
        series.Any(s => s.HasIntervals) ? series.Select(s => s.HasIntervals ? s.Intervals : null).ToArray() : null;

    /// <summary>Lines over a numeric x axis (per-layer comparison against relative depth).</summary>
    public static object NumericLines(string file, string title, IReadOnlyList<PointSeries> series, string xTitle, string yTitle,
        double? yMin = null, double? yMax = null, int height = 340) => new
    {
        chart = Chart("line", file, height),
        title = new { text = title, align = "left" },
        series = series.Select(s => new { name = s.Name, data = s.Data.Select(p => new { x = p.X, y = p.Y }).ToArray() }).ToArray(),
        xaxis = new { type = "numeric", min = 0, max = 1, tickAmount = 10, title = new { text = xTitle } },
        yaxis = new[] { YAxis(yTitle, yMin, yMax) },
        colors = series.Select((_, i) => Color(i)).ToArray(),
        stroke = new { width = 2, curve = "straight" },
        markers = new { size = 3 },
        grid = LineGrid,
        legend = new { position = "top" },
        noData = new { text = "No data" },
        eqlab = new
        {
            decimals = 3, xDecimals = 2,
            errorBars = series.Any(s => s.Data.Any(p => p.Interval is not null)) ? series.Select(s => s.Data.Select(p => p.Interval).ToArray()).ToArray() : null,
        },
    };

    /// <summary>Score against accuracy, one series per measure, each point named after its model.</summary>
    public static object Scatter(string file, string title, IReadOnlyList<PointSeries> series, string xTitle, string yTitle,
        IReadOnlyList<string>? colors = null, int height = 300) => new
    {
        chart = Chart("scatter", file, height),
        title = new { text = title, align = "left" },
        series = series.Select(s => new { name = s.Name, data = s.Data.Where(p => p.Y is not null).Select(p => new { x = p.X, y = p.Y, name = p.Name }).ToArray() }).ToArray(),
        xaxis = new { type = "numeric", title = new { text = xTitle }, tickAmount = 6 },
        yaxis = new[] { YAxis(yTitle, null, null) },
        colors = colors ?? series.Select((_, i) => Color(i)).ToArray(),
        markers = new { size = 6 },
        legend = new { position = "top" },
        noData = new { text = "No data" },
        eqlab = new { decimals = 3, xDecimals = 1, pointNames = true, xTitle },
    };

    /// <summary>Scores are similarities in [−1, 1]; start the axis at 0 unless something is negative.</summary>
    public static double ScoreAxisMin(IEnumerable<double?> values)
    {
        var min = values.OfType<double>().DefaultIfEmpty(0).Min();
        return min >= 0 ? 0 : Math.Max(-1, Math.Floor(min * 10) / 10);
    }
}
