using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using EquivarianceLab.E2E.Infrastructure;
using Microsoft.Playwright;

namespace EquivarianceLab.E2E;

/// <summary>
/// Issue 4's "Checked by", in a real browser against the real server: pick zoo models, queue rotation and translation
/// runs, watch progress reach done, read the charts, compare, correlate, reopen share links in a fresh browser
/// context and check the CSV download. A screenshot of each page goes to TestResults/screenshots.
/// </summary>
[Collection(DashboardCollection.Name)]
public sealed partial class DashboardFlowTests(DashboardFixture lab)
{
    private const int Images = 24;
    /// <summary>Enough images (5 forward passes each) for the translation run to take a few seconds: progress is visible.</summary>
    private const int TranslationImages = 1000;
    private static readonly int ModelCount = DashboardFixture.Models.Length;
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task A_researcher_measures_reads_compares_correlates_and_shares_results()
    {
        await using var context = await lab.NewContextAsync();
        var page = await context.NewPageAsync();
        await FailureArtifacts.RunAsync(page, "dashboard-flow", () => FlowAsync(page));
    }

    private async Task FlowAsync(IPage page)
    {
        // Overview, then the zoo on the Models page; a model's card opens from its row.
        await page.OpenAsync("");
        await Assertions.Expect(page.GetByText("EquivarianceLab").First).ToBeVisibleAsync();
        await page.ShotAsync("01-overview");
        await page.OpenAsync("models");
        var table = page.Locator("[data-testid=models-table]");
        foreach (var m in DashboardFixture.Models) await Assertions.Expect(table).ToContainTextAsync(m.Name);
        await table.GetByText("Tiny CNN A", new() { Exact = true }).ClickAsync();
        await page.WaitForURLAsync(u => u.EndsWith("models?id=tiny-a", StringComparison.Ordinal));
        var card = page.Locator("[data-testid=model-card]");
        await Assertions.Expect(card).ToContainTextAsync("1×28×28");
        await Assertions.Expect(card.Locator("[data-testid=accuracy-input]")).ToHaveValueAsync("71.5");
        await page.ShotAsync("02-models-card");

        // The card's "Measure" opens the New measurement form with this model; the other zoo models are added in the
        // form's model picker: one rotation job per model.
        await card.GetByText("Measure", new() { Exact = true }).ClickAsync();
        await page.WaitForURLAsync(u => u.Contains("/measure?models=tiny-a", StringComparison.Ordinal));
        await page.WaitForInteractiveAsync();
        await Assertions.Expect(page.Locator("[data-testid=models-select]")).ToHaveValueAsync("Tiny CNN A");
        await page.Locator("[data-testid=models-select]").ClickAsync();
        foreach (var m in DashboardFixture.Models.Skip(1))
            await page.Locator(".mud-popover-open .mud-list-item", new() { HasText = m.Name }).ClickAsync();
        // Closing the picker: a click outside it, as a person would.
        await page.Mouse.ClickAsync(5, 500);
        await Assertions.Expect(page.Locator(".mud-popover-open .mud-list-item")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("[data-testid=models-select]")).ToHaveValueAsync(string.Join(", ", DashboardFixture.Models.Select(m => m.Name)));
        await Assertions.Expect(page.Locator("[data-testid=queue-button]")).ToContainTextAsync($"Queue {ModelCount} runs");
        await SetImagesAsync(page, Images);
        await page.ShotAsync("03-measure-rotation");
        await page.Locator("[data-testid=queue-button]").ClickAsync();
        await page.WaitForURLAsync(u => u.Contains("/runs?highlight=", StringComparison.Ordinal));
        var rotationRuns = Highlighted(page.Url);
        Assert.Equal(ModelCount, rotationRuns.Count);

        // Progress is pushed to the Runs page until every run is done.
        await page.WaitForInteractiveAsync();
        await page.ShotAsync("04-runs-queued");
        var runsTable = page.Locator("[data-testid=runs-table]");
        // The runs just queued are the highlighted rows (another test of this server may have runs of its own).
        var queuedHere = runsTable.Locator("tr.run-highlight");
        await Assertions.Expect(queuedHere.Locator("[data-status=done]")).ToHaveCountAsync(ModelCount, new() { Timeout = (float)RunTimeout.TotalMilliseconds });
        await Assertions.Expect(queuedHere.Locator("[data-status=running], [data-status=queued]")).ToHaveCountAsync(0);
        await page.ShotAsync("05-runs-done");

        // A translation run of the wider model, chosen on the form: the transform from the select, shifts up to 4.
        await page.OpenAsync("measure?models=wide-d");
        await ChooseAsync(page, "transform-select", "translation");
        await SetImagesAsync(page, TranslationImages);
        var maxShift = page.GetByLabel("Max shift K");
        await maxShift.FillAsync("4");
        await maxShift.PressAsync("Tab");
        await page.Locator("[data-testid=queue-button]").ClickAsync();
        await page.WaitForURLAsync(u => u.Contains("/runs?highlight=", StringComparison.Ordinal));
        var translationRun = Assert.Single(Highlighted(page.Url));
        await page.WaitForInteractiveAsync();
        // Its Run page shows live progress (images done of the total, pushed from the job) until the result replaces it.
        await page.Locator("[data-testid=runs-table]").GetByText($"#{translationRun}", new() { Exact = true }).ClickAsync();
        await page.WaitForURLAsync(u => u.EndsWith($"runs/{translationRun}", StringComparison.Ordinal));
        await page.WaitForInteractiveAsync();
        await Assertions.Expect(page.GetByText(new Regex($@"\d+ / {TranslationImages} images"))).ToBeVisibleAsync(new() { Timeout = 60_000 });
        await Assertions.Expect(page.Locator("[data-testid=run-progress]")).ToBeVisibleAsync();
        await page.ShotAsync("07-run-progress");
        await Assertions.Expect(page.Locator("[data-status=done]")).ToBeVisibleAsync(new() { Timeout = (float)RunTimeout.TotalMilliseconds });
        await Assertions.Expect(page.Locator("[data-testid=run-progress]")).ToHaveCountAsync(0);
        var translation = await lab.Api.RunAsync(translationRun);
        Assert.Equal("translation", translation.GetProperty("result").GetProperty("transform").GetString());
        Assert.Equal(4, translation.GetProperty("result").GetProperty("maxShift").GetInt32());

        // The Run page of the rotation run of Tiny CNN A: part bars (invariance and equivariance per part), the
        // score-against-transform and per-layer charts, and the part table with the stored numbers.
        var runA = 0;
        foreach (var id in rotationRuns)
            if ((await lab.Api.RunAsync(id)).GetProperty("modelId").GetString() == "tiny-a") runA = id;
        var resultA = (await lab.Api.RunAsync(runA)).GetProperty("result");
        var parts = resultA.GetProperty("parts").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(["Early", "Middle", "Late", "Pool", "Final"], parts);
        await page.OpenAsync($"runs/{runA}");
        await ExpectBarsAsync(page, $"run-{runA}-parts", 2 * parts.Count);
        await ExpectChartAsync(page, $"run-{runA}-transforms");
        await ExpectChartAsync(page, $"run-{runA}-layers");
        await ExpectErrorBarsAsync(page, $"run-{runA}-parts", 2 * parts.Count);
        // The layer chart: both scores named in the legend, a whisker through every point.
        await Assertions.Expect(page.Locator($"[data-chart-id=run-{runA}-layers] .apexcharts-legend-text")).ToHaveTextAsync(["Invariance", "Equivariance"]);
        await ExpectPointErrorBarsAsync(page, $"run-{runA}-layers", 2 * resultA.GetProperty("layers").GetArrayLength());
        var partsTable = await page.Locator("[data-testid=parts-table]").InnerTextAsync();
        foreach (var part in resultA.GetProperty("parts").EnumerateObject())
        {
            var line = partsTable.Split('\n').Single(l => l.StartsWith(part.Name, StringComparison.Ordinal));
            Assert.Contains(Score(part.Value.GetProperty("invariance")) + " ± ", line);
            Assert.Contains(Score(part.Value.GetProperty("equivariance")) + " ± ", line);
        }
        await page.ShotAsync("06-run-rotation");

        // The same chart in the browser has one x category per rotation on the score-against-transform chart.
        await Assertions.Expect(page.Locator($"[data-chart-id=run-{runA}-transforms] .apexcharts-xaxis-label")).ToHaveCountAsync(3);

        // CSV download: what the browser saves is the run's per-part, per-layer and per-rotation rows.
        var download = await page.RunAndWaitForDownloadAsync(() => page.Locator("[data-testid=download-csv]").ClickAsync());
        Assert.Equal($"run-{runA}.csv", download.SuggestedFilename);
        var csv = await File.ReadAllTextAsync((await download.PathAsync())!);
        CheckCsv(csv, resultA, runA, ["rot90", "rot180", "rot270"]);
        Assert.Equal(await lab.Api.GetStringAsync($"api/runs/{runA}.csv"), csv);
        var runLink = await CopyLinkAsync(page);
        Assert.Equal(new Uri(lab.Server.BaseUri, $"runs/{runA}").ToString(), runLink);

        // The translation run: the score-against-transform chart runs over the shifts 1…4.
        await page.OpenAsync($"runs/{translationRun}");
        await ExpectBarsAsync(page, $"run-{translationRun}-parts", 2 * parts.Count);
        await Assertions.Expect(page.Locator($"[data-chart-id=run-{translationRun}-transforms] .apexcharts-xaxis-label")).ToHaveCountAsync(4);
        await page.ShotAsync("08-run-translation");

        // Compare: the rotation runs chosen on the Runs page, grouped bars per part with one series per run.
        await page.OpenAsync("runs?status=done");
        foreach (var id in rotationRuns) await page.GetByLabel($"select run {id}").CheckAsync();
        await page.Locator("[data-testid=compare-selected]").ClickAsync();
        await page.WaitForURLAsync(u => u.Contains("/compare?runs=", StringComparison.Ordinal));
        Assert.EndsWith($"compare?runs={string.Join(',', rotationRuns.Order())}", page.Url);
        await page.WaitForInteractiveAsync();
        await ExpectBarsAsync(page, "compare-parts-equivariance", ModelCount * parts.Count);
        await ExpectBarsAsync(page, "compare-parts-invariance", ModelCount * parts.Count);
        await ExpectErrorBarsAsync(page, "compare-parts-equivariance", ModelCount * parts.Count);
        var compareTable = await page.Locator("[data-testid=compare-table]").InnerTextAsync();
        foreach (var m in DashboardFixture.Models) Assert.Contains(m.Name, compareTable);
        await page.ShotAsync("09-compare-parts");
        var compareLink = await CopyLinkAsync(page);
        await page.GetByText("Per layer", new() { Exact = true }).ClickAsync();
        await page.WaitForURLAsync(u => u.Contains("view=layers", StringComparison.Ordinal));
        await ExpectChartAsync(page, "compare-layers-equivariance");
        await Assertions.Expect(page.Locator("[data-chart-id=compare-layers-equivariance] .apexcharts-series")).ToHaveCountAsync(ModelCount);
        var layerPoints = 0;
        foreach (var id in rotationRuns) layerPoints += (await lab.Api.RunAsync(id)).GetProperty("result").GetProperty("layers").GetArrayLength();
        await ExpectPointErrorBarsAsync(page, "compare-layers-equivariance", layerPoints);
        await page.ShotAsync("10-compare-layers");

        // Correlation: the group of comparable runs that holds the rotation runs (same probe set, settings and test set;
        // every model has an accuracy → ρ per part, n = 4), named in the URL; the page shows the API's numbers.
        var study = await lab.Api.GetFromJsonAsync<JsonElement>("api/correlation");
        var group = study.GetProperty("groups").EnumerateArray()
            .Single(g => g.GetProperty("runs").EnumerateArray().Any(r => rotationRuns.Contains(r.GetProperty("runId").GetInt32())));
        Assert.Equal(ModelCount, group.GetProperty("n").GetInt32());
        await page.OpenAsync($"correlation?group={Uri.EscapeDataString(group.GetProperty("key").GetString()!)}");
        await Assertions.Expect(page.Locator("[data-testid=group-description]")).ToContainTextAsync($"each of {ModelCount} models");
        await ExpectBarsAsync(page, "correlation-rho", 2 * parts.Count);
        var rhoTable = await page.Locator("[data-testid=rho-table]").InnerTextAsync();
        var rhoRows = rhoTable.Split('\n').Where(l => parts.Any(p => l.StartsWith(p + "\t", StringComparison.Ordinal))).ToList();
        Assert.Equal(parts.Count, rhoRows.Count);
        Assert.All(rhoRows, r => Assert.Equal(ModelCount.ToString(CultureInfo.InvariantCulture), r.Split('\t')[2]));
        var intervals = 0;
        foreach (var part in group.GetProperty("parts").EnumerateArray())
        {
            var cells = rhoRows.Single(r => r.StartsWith(part.GetProperty("part").GetString() + "\t", StringComparison.Ordinal)).Split('\t');
            foreach (var (measure, column) in new[] { ("invariance", 1), ("equivariance", 5) })
            {
                var c = part.GetProperty(measure);
                Assert.Equal(c.GetProperty("rho").ValueKind == JsonValueKind.Null ? "—" : c.GetProperty("rho").GetDouble().ToString("0.000", CultureInfo.InvariantCulture), cells[column]);
                if (c.GetProperty("low").ValueKind != JsonValueKind.Null) intervals++;
            }
        }
        // Each interval is a whisker on its bar.
        await Assertions.Expect(page.Locator("[data-chart-id=correlation-rho] .eqlab-error-bar")).ToHaveCountAsync(intervals);
        await ExpectChartAsync(page, "correlation-scatter-early");
        await page.ShotAsync("11-correlation");
        var correlationLink = await CopyLinkAsync(page);

        // Share links opened in a new browser context (no cookies, storage or circuit in common) show the same numbers.
        await using var colleague = await lab.NewContextAsync();
        var other = await colleague.NewPageAsync();
        await other.OpenAsync(runLink);
        await ExpectBarsAsync(other, $"run-{runA}-parts", 2 * parts.Count);
        Assert.Equal(partsTable, await other.Locator("[data-testid=parts-table]").InnerTextAsync());
        await other.ShotAsync("12-shared-run");
        await other.OpenAsync(compareLink);
        await ExpectBarsAsync(other, "compare-parts-equivariance", ModelCount * parts.Count);
        Assert.Equal(compareTable, await other.Locator("[data-testid=compare-table]").InnerTextAsync());
        await other.ShotAsync("13-shared-compare");
        await other.OpenAsync(correlationLink);
        await ExpectBarsAsync(other, "correlation-rho", 2 * parts.Count);
        Assert.Equal(rhoTable, await other.Locator("[data-testid=rho-table]").InnerTextAsync());
        await other.ShotAsync("14-shared-correlation");
    }

    private static async Task SetImagesAsync(IPage page, int images)
    {
        var field = page.Locator("[data-testid=images-input]");
        await field.FillAsync(images.ToString(CultureInfo.InvariantCulture));
        await field.PressAsync("Tab");
        await Assertions.Expect(page.Locator("[data-testid=queue-button]")).ToBeEnabledAsync();
    }

    /// <summary>Opens a MudSelect and picks the option whose text starts with <paramref name="option"/>.</summary>
    private static async Task ChooseAsync(IPage page, string testId, string option)
    {
        var select = page.Locator($"[data-testid={testId}]");
        var item = page.Locator(".mud-popover-open .mud-list-item", new() { HasTextRegex = new Regex(@"^\s*" + Regex.Escape(option)) }).First;
        for (var attempt = 0; ; attempt++)
        {
            await select.ClickAsync();
            try
            {
                await item.WaitForAsync(new() { Timeout = 5_000 });
                break;
            }
            catch (TimeoutException) when (attempt < 2)
            {
                // The popover did not open (a click racing the first render); close whatever opened and try again.
                await page.Keyboard.PressAsync("Escape");
            }
        }
        await item.ClickAsync();
        await Assertions.Expect(select).ToContainTextAsync(option);
    }

    /// <summary>The chart's SVG is drawn and holds exactly <paramref name="count"/> bars.</summary>
    private static async Task ExpectBarsAsync(IPage page, string chartId, int count)
    {
        await ExpectChartAsync(page, chartId);
        await Assertions.Expect(page.Locator($"[data-chart-id={chartId}] svg path.apexcharts-bar-area")).ToHaveCountAsync(count);
    }

    /// <summary>One whisker per bar, each spanning its bar's end (the score lies inside its 95% interval).</summary>
    private static async Task ExpectErrorBarsAsync(IPage page, string chartId, int count)
    {
        await Assertions.Expect(page.Locator($"[data-chart-id={chartId}] g.eqlab-error-bar")).ToHaveCountAsync(count);
        var spans = await page.EvaluateAsync<bool[]>("""
            id => {
                const el = document.querySelector(`[data-chart-id="${id}"]`);
                const bars = [...el.querySelectorAll('.apexcharts-bar-series .apexcharts-series path.apexcharts-bar-area')];
                const whiskers = [...el.querySelectorAll('g.eqlab-error-bar line:first-child')];
                return whiskers.map((w, i) => {
                    const b = bars[i].getBBox();
                    const end = Number(bars[i].getAttribute('val')) >= 0 ? b.y : b.y + b.height;
                    const y1 = Number(w.getAttribute('y1')), y2 = Number(w.getAttribute('y2'));
                    return Math.min(y1, y2) - 1 <= end && end <= Math.max(y1, y2) + 1;
                });
            }
            """, chartId);
        Assert.Equal(count, spans.Length);
        Assert.All(spans, Assert.True);
    }

    /// <summary>One whisker per line point, through the point's marker (the score lies inside its 95% interval).</summary>
    private static async Task ExpectPointErrorBarsAsync(IPage page, string chartId, int count)
    {
        await Assertions.Expect(page.Locator($"[data-chart-id={chartId}] g.eqlab-error-bar")).ToHaveCountAsync(count);
        var through = await page.EvaluateAsync<bool[]>("""
            id => {
                const el = document.querySelector(`[data-chart-id="${id}"]`);
                const markers = [...el.querySelectorAll('.apexcharts-line-series .apexcharts-series .apexcharts-series-markers-wrap .apexcharts-marker')];
                const whiskers = [...el.querySelectorAll('g.eqlab-error-bar line:first-child')];
                return whiskers.map((w, i) => {
                    const m = markers[i].getBoundingClientRect(), r = w.getBoundingClientRect();
                    const cx = m.x + m.width / 2, cy = m.y + m.height / 2;
                    return Math.abs(r.x + r.width / 2 - cx) <= 1 && r.y - 1 <= cy && cy <= r.y + r.height + 1;
                });
            }
            """, chartId);
        Assert.Equal(count, through.Length);
        Assert.All(through, Assert.True);
    }

    private static async Task ExpectChartAsync(IPage page, string chartId) =>
        await Assertions.Expect(page.Locator($"[data-chart-id={chartId}] svg.apexcharts-svg")).ToHaveCountAsync(1);

    /// <summary>Clicks "Copy link" and reads what it put on the clipboard.</summary>
    private static async Task<string> CopyLinkAsync(IPage page)
    {
        await page.Locator("[data-testid=copy-link]").ClickAsync();
        await Assertions.Expect(page.GetByText("Link copied to the clipboard.")).ToBeVisibleAsync();
        var link = await page.EvaluateAsync<string>("() => navigator.clipboard.readText()");
        Assert.Equal(page.Url, link);
        return link;
    }

    private static List<int> Highlighted(string url) =>
        Uri.UnescapeDataString(HighlightQuery().Match(url).Groups[1].Value).Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToList();

    [GeneratedRegex(@"highlight=([0-9,%2C]+)")]
    private static partial Regex HighlightQuery();

    private static string Score(JsonElement v) => v.ValueKind == JsonValueKind.Null ? "—" : v.GetDouble().ToString("0.000", CultureInfo.InvariantCulture);

    /// <summary>Header, one row per part, and per layer its mean and one row per transform, with the stored numbers.</summary>
    private static void CheckCsv(string csv, JsonElement result, int runId, string[] transforms)
    {
        var lines = csv.TrimEnd().Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Equal("run,model,probe,transform_family,similarity,images,kind,index,layer,part,shape,transform,invariance,equivariance," +
            "invariance_stderr,invariance_low,invariance_high,equivariance_stderr,equivariance_low,equivariance_high", lines[0]);
        var layers = result.GetProperty("layers").EnumerateArray().ToList();
        var parts = result.GetProperty("parts").EnumerateObject().ToList();
        Assert.Equal(1 + parts.Count + layers.Count * (1 + transforms.Length), lines.Count);
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        Assert.All(rows, r => Assert.Equal(runId.ToString(CultureInfo.InvariantCulture), r[0]));
        Assert.All(rows, r => Assert.Equal(Images.ToString(CultureInfo.InvariantCulture), r[5]));
        foreach (var part in parts)
        {
            var r = rows.Single(x => x[6] == "part" && x[9] == part.Name);
            Assert.Equal(part.Value.GetProperty("invariance").GetDouble(), double.Parse(r[12], CultureInfo.InvariantCulture), 12);
            Assert.Equal(part.Value.GetProperty("equivariance").GetDouble(), double.Parse(r[13], CultureInfo.InvariantCulture), 12);
        }
        foreach (var layer in layers)
        {
            var name = layer.GetProperty("name").GetString();
            var mine = rows.Where(x => x[6] == "layer" && x[8] == name).ToList();
            Assert.Equal(["mean", .. transforms], mine.Select(x => x[11]));
        }
    }
}
