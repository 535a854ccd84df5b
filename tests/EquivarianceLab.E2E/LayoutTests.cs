using System.Text.Json;
using EquivarianceLab.E2E.Infrastructure;
using Microsoft.Playwright;

namespace EquivarianceLab.E2E;

/// <summary>
/// Issue 14, "the first hour": every page stays readable on a phone (390 px) and a tablet (768 px) as well as on a
/// desktop — nothing wider than the window, tables that keep their column labels when they stack, chart labels inside
/// their chart and every chart series named in its legend. Screenshots of each page at each width are kept in
/// TestResults/screenshots/layout-*.png.
/// </summary>
public sealed class LayoutTests() : ServerTest("layout")
{
    protected override void AddModels(TestZoo zoo)
    {
        zoo.AddTinyCnn("tiny-a", "Tiny CNN A", 71.5, seed: 1);
        zoo.AddTinyCnn("tiny-b", "Tiny CNN B", 83.0, seed: 2);
        zoo.AddTinyCnn("tiny-c", "Tiny CNN C", 90.2, seed: 3);
    }

    [Fact]
    public async Task Every_page_is_readable_at_phone_tablet_and_desktop_widths()
    {
        using var api = Server.CreateClient();
        var rotation = new List<int>();
        foreach (var id in new[] { "tiny-a", "tiny-b", "tiny-c" }) rotation.Add(await api.QueueAsync(id, images: 16));
        var translation = await api.QueueAsync("tiny-a", transform: "translation", images: 16, maxShift: 4);
        foreach (var id in rotation.Append(translation))
            Assert.Equal("done", (await api.WaitForRunAsync(id, TimeSpan.FromMinutes(1))).GetProperty("status").GetString());

        string[] pages =
        [
            "/", "/models", "/probesets", "/measure", "/runs", $"/runs/{rotation[0]}", $"/runs/{translation}",
            $"/compare?runs={string.Join(",", rotation)}", "/correlation",
        ];
        var problems = new List<string>();
        var (playwright, browser) = await Chromium.LaunchAsync();
        try
        {
            foreach (var width in new[] { 390, 768, 1280 })
            {
                await using var context = await browser.NewContextAsync(new BrowserNewContextOptions
                {
                    BaseURL = Server.BaseUri.ToString(), ViewportSize = new ViewportSize { Width = width, Height = 900 }, Locale = "en-GB",
                });
                context.SetDefaultTimeout(30_000);
                var page = await context.NewPageAsync();
                foreach (var path in pages)
                {
                    var name = $"layout-{width}-{Slug(path)}";
                    await FailureArtifacts.RunAsync(page, name, async () =>
                    {
                        await page.OpenAsync(path.TrimStart('/'));
                        await WaitForChartsAsync(page);
                        await page.ShotAsync(name);
                        problems.AddRange((await ProblemsAsync(page)).Select(p => $"{path} at {width} px: {p}"));
                    });
                }
            }
        }
        finally
        {
            await browser.DisposeAsync();
            playwright.Dispose();
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    private static string Slug(string path) => path == "/" ? "home" : new string(path.Trim('/').Select(c => char.IsLetterOrDigit(c) ? c : '-').ToArray());

    /// <summary>Charts draw after the circuit starts; wait until every chart container holds its SVG and settles.</summary>
    private static async Task WaitForChartsAsync(IPage page)
    {
        var charts = page.Locator("[data-chart-id]");
        for (var i = 0; i < await charts.CountAsync(); i++)
            await charts.Nth(i).Locator("svg.apexcharts-svg").WaitForAsync();
        await page.WaitForTimeoutAsync(400); // ApexCharts animates its first draw
    }

    private static async Task<List<string>> ProblemsAsync(IPage page)
    {
        var report = await page.EvaluateAsync<JsonElement>(Probe);
        return report.GetProperty("problems").EnumerateArray().Select(p => p.GetString()!).ToList();
    }

    /// <summary>
    /// What a reader would notice, measured in the page: the document wider than the window; a stacked table cell
    /// (MudBlazor stacks a table's cells below its breakpoint and shows each cell's <c>data-label</c> before it) without its label; a chart's axis or data label
    /// outside its SVG (clipped); a chart with more than one series whose legend does not name each one.
    /// </summary>
    private const string Probe = """
        () => {
          const problems = [];
          const doc = document.documentElement;
          if (doc.scrollWidth > window.innerWidth + 1)
            problems.push(`page is ${doc.scrollWidth} px wide in a ${window.innerWidth} px window`);
          for (const item of document.querySelectorAll('.mud-appbar .mud-toolbar > *')) {
            const r = item.getBoundingClientRect();
            if (r.width > 0 && r.right > window.innerWidth + 1) { problems.push(`app bar item "${item.textContent.trim().slice(0, 30)}" runs past the window`); break; }
          }
          for (const td of document.querySelectorAll('.mud-table td')) {
            const display = getComputedStyle(td).display;
            if (display === 'none' || display === 'table-cell' || td.offsetParent === null || td.textContent.trim() === '') continue;
            if (!td.dataset.label) { problems.push(`stacked table cell without a label: "${td.textContent.trim().slice(0, 40)}"`); break; }
          }
          for (const chart of document.querySelectorAll('[data-chart-id]')) {
            const id = chart.getAttribute('data-chart-id');
            const svg = chart.querySelector('svg.apexcharts-svg');
            if (!svg) { problems.push(`chart ${id} has no svg`); continue; }
            const box = svg.getBoundingClientRect();
            for (const label of svg.querySelectorAll('.apexcharts-xaxis-label, .apexcharts-yaxis-label, .apexcharts-xaxis-title-text, .apexcharts-yaxis-title-text, .apexcharts-datalabel')) {
              const r = label.getBoundingClientRect();
              if (r.width === 0 && r.height === 0) continue;
              if (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1 || r.bottom > box.bottom + 1)
                { problems.push(`chart ${id}: label "${label.textContent.slice(0, 30)}" is clipped`); break; }
            }
            const series = svg.querySelectorAll('.apexcharts-series[seriesName]').length;
            const legend = chart.querySelectorAll('.apexcharts-legend-series').length;
            if (series > 1 && legend < series) problems.push(`chart ${id}: ${series} series but ${legend} legend entries`);
          }
          return { problems };
        }
        """;
}
