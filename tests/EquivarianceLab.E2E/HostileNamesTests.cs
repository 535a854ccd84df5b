using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.E2E.Infrastructure;
using EquivarianceLab.Tests.TestModels;
using Microsoft.Playwright;

namespace EquivarianceLab.E2E;

/// <summary>
/// Hostile users, in real Chromium against the real server: a model, a probe set and ONNX tensor names carrying markup
/// or a spreadsheet formula are shown as text on every page that lists or charts them (tables, chart legends, axis
/// labels and tooltips), no script of theirs runs, the pages work under the Content-Security-Policy without a single
/// violation, and the CSV download neutralises the formula. A server of its own, so these names reach no other test.
/// </summary>
public sealed class HostileNamesTests() : ServerTest("hostile")
{
    private const string ModelName = "<img src=x onerror=alert(1)>";
    private const string ProbeName = "<img src=x onerror=alert(3)> & co";
    private const string FormulaLayer = "=HYPERLINK(\"http://evil.example\",\"open\")";
    private const string MarkupLayer = "<img src=x onerror=alert(2)>";

    protected override void AddModels(TestZoo zoo) => zoo.AddTinyCnn("tiny-a", "Tiny CNN A", 71.5, seed: 1);

    [Fact]
    public async Task Names_with_markup_or_formulas_stay_text_and_no_page_breaks_the_policy()
    {
        using var api = Server.CreateClient();
        var model = await api.UploadAsync("api/models", "hostile.onnx", HostileCnn(), ModelName, ("accuracy", "55"));
        var pngs = new List<byte[]>();
        for (var i = 0; i < 12; i++) pngs.Add(await api.GetByteArrayAsync($"thumbnails/fashion-mnist-test/{i}.png"));
        var probe = await api.UploadAsync("api/probesets", "garments.zip", UploadFlowTests.Zip(pngs.Select((png, i) => ($"{i:00}.png", png))), ProbeName);
        var hostileRun = await api.QueueAsync(model, images: 8);
        var onHostileProbes = await api.QueueAsync(model, images: 8, probeSetId: probe);
        var tinyRun = await api.QueueAsync("tiny-a", images: 8);
        foreach (var id in new[] { hostileRun, onHostileProbes, tinyRun })
            Assert.Equal("done", (await api.WaitForRunAsync(id, TimeSpan.FromMinutes(1))).GetProperty("status").GetString());

        await AssertHeadersAsync(api);

        var (playwright, browser) = await Chromium.LaunchAsync();
        try
        {
            await using var context = await Chromium.NewContextAsync(browser, Server.BaseUri);
            var page = await context.NewPageAsync();
            var dialogs = new List<string>();
            var violations = new List<string>();
            var documents = new List<IResponse>();
            page.Dialog += (_, d) => { dialogs.Add(d.Message); _ = d.DismissAsync(); };
            page.Console += (_, m) => { if (m.Text.Contains("Content Security Policy", StringComparison.Ordinal)) violations.Add(m.Text); };
            page.PageError += (_, e) => violations.Add("page error: " + e);
            page.Response += (_, r) => { if (r.Request.ResourceType == "document") documents.Add(r); };

            await FailureArtifacts.RunAsync(page, "hostile-names", async () =>
            {
                async Task CheckAsync(string what)
                {
                    // An onerror handler runs when the image fails to load, so give it the time to.
                    await page.WaitForTimeoutAsync(300);
                    Assert.Equal(0, await page.Locator("img[src='x']").CountAsync());
                    Assert.True(dialogs.Count == 0, $"{what}: a dialog opened: {string.Join(" | ", dialogs)}");
                    Assert.True(violations.Count == 0, $"{what}: {string.Join("\n", violations)}");
                    // SVG text is shown as it is: an escaped name would read "&lt;img" there.
                    foreach (var text in await page.Locator("svg text").AllTextContentsAsync())
                        Assert.False(text.Contains("&lt;", StringComparison.Ordinal) || text.Contains("&amp;", StringComparison.Ordinal), $"{what}: SVG text '{text}'");
                }

                await page.OpenAsync("");
                await Assertions.Expect(page.GetByText(ModelName).First).ToBeVisibleAsync();
                await CheckAsync("overview");

                await page.OpenAsync("models");
                await Assertions.Expect(page.Locator("[data-testid=models-table]").GetByText(ModelName, new() { Exact = true })).ToBeVisibleAsync();
                await CheckAsync("models");
                await page.OpenAsync($"models?id={model}");
                await Assertions.Expect(page.Locator("[data-testid=model-card]")).ToContainTextAsync(ModelName);
                await CheckAsync("model card");

                await page.OpenAsync("probesets");
                await Assertions.Expect(page.GetByText(ProbeName).First).ToBeVisibleAsync();
                await CheckAsync("probe sets");

                await page.OpenAsync("runs");
                await Assertions.Expect(page.Locator("[data-testid=runs-table]")).ToContainTextAsync(ModelName);
                await Assertions.Expect(page.Locator("[data-testid=runs-table]")).ToContainTextAsync(ProbeName);
                await CheckAsync("runs");

                await page.OpenAsync($"runs/{onHostileProbes}");
                await Assertions.Expect(page.GetByText(ProbeName).First).ToBeVisibleAsync();
                await CheckAsync("run on the hostile probe set");

                // The run: its title, the layer table and the per-layer chart, whose axis labels are SVG text and whose
                // tooltip title (and x-axis tooltip) are HTML.
                await page.OpenAsync($"runs/{hostileRun}");
                await Assertions.Expect(page.Locator("h4", new() { HasText = ModelName })).ToBeVisibleAsync();
                await Assertions.Expect(page.GetByText(MarkupLayer, new() { Exact = true }).First).ToBeVisibleAsync();
                await Assertions.Expect(page.GetByText(FormulaLayer, new() { Exact = true }).First).ToBeVisibleAsync();
                var layers = page.Locator($"[data-chart-id=run-{hostileRun}-layers]");
                await Assertions.Expect(layers.Locator("svg.apexcharts-svg")).ToHaveCountAsync(1);
                var labels = await layers.Locator(".apexcharts-xaxis-label").AllTextContentsAsync();
                // (ApexCharts trims long labels and blanks those that would overlap a neighbour: the first is whole enough.)
                Assert.StartsWith("0 <img", labels[0], StringComparison.Ordinal);
                await HoverCategoryAsync(page, layers, 0);
                var title = layers.Locator(".apexcharts-tooltip-title");
                await Assertions.Expect(title).ToHaveTextAsync($"0 {MarkupLayer}");
                Assert.DoesNotContain("<img", await title.InnerHTMLAsync());
                await Assertions.Expect(layers.Locator(".apexcharts-xaxistooltip-text")).ToHaveTextAsync($"0 {MarkupLayer}");
                await CheckAsync("run");

                // The chart menu offers PNG and SVG; the CSV is the page's own download, with the formula neutralised.
                await layers.Locator(".apexcharts-menu-icon").ClickAsync();
                Assert.Equal(["Download SVG", "Download PNG"], await layers.Locator(".apexcharts-menu-item").AllTextContentsAsync());
                var download = await page.RunAndWaitForDownloadAsync(() => page.Locator("[data-testid=download-csv]").ClickAsync());
                Assert.Equal($"run-{hostileRun}.csv", download.SuggestedFilename);
                var csv = await File.ReadAllLinesAsync((await download.PathAsync())!);
                var formulaRows = csv.Where(l => l.Contains("HYPERLINK", StringComparison.Ordinal)).ToList();
                Assert.Equal(4, formulaRows.Count); // the layer's mean and its three rotations
                Assert.All(formulaRows, l => Assert.Contains(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"open\"\")\",", l));
                Assert.Contains(csv, l => l.Contains($",{MarkupLayer},", StringComparison.Ordinal));

                // Compare: each run is a series named after its model: legend and tooltip are HTML.
                await page.OpenAsync($"compare?runs={hostileRun},{tinyRun}");
                var parts = page.Locator("[data-chart-id=compare-parts-equivariance]");
                await Assertions.Expect(parts.Locator("svg path.apexcharts-bar-area").First).ToBeVisibleAsync();
                var legend = parts.Locator(".apexcharts-legend-text").First;
                await Assertions.Expect(legend).ToHaveTextAsync(ModelName);
                Assert.DoesNotContain("<img", await legend.InnerHTMLAsync());
                await HoverAsync(page, parts, parts.Locator("path.apexcharts-bar-area").First);
                var seriesLabel = parts.Locator(".apexcharts-tooltip-text-y-label").First;
                await Assertions.Expect(seriesLabel).ToContainTextAsync(ModelName);
                Assert.DoesNotContain("<img", await seriesLabel.InnerHTMLAsync());
                await CheckAsync("compare");
                await page.OpenAsync($"compare?runs={hostileRun},{tinyRun}&view=layers");
                await Assertions.Expect(page.Locator("[data-chart-id=compare-layers-equivariance] .apexcharts-legend-text").First).ToContainTextAsync(ModelName);
                await CheckAsync("compare per layer");

                // Correlation: the group of the run on the hostile probe set (its name is in the group's description);
                // each scatter point's tooltip names its run.
                var groups = (await api.GetFromJsonAsync<JsonElement>("api/correlation")).GetProperty("groups").EnumerateArray();
                var hostileGroup = groups.Single(g => g.GetProperty("runs").EnumerateArray().Any(r => r.GetProperty("runId").GetInt32() == onHostileProbes));
                await page.OpenAsync($"correlation?group={Uri.EscapeDataString(hostileGroup.GetProperty("key").GetString()!)}");
                await Assertions.Expect(page.Locator("[data-testid=group-description]")).ToContainTextAsync(ProbeName);
                var scatter = page.Locator("[data-chart-id=correlation-scatter-early]");
                await Assertions.Expect(scatter.Locator("svg.apexcharts-svg")).ToHaveCountAsync(1);
                var pointTitles = new List<string>();
                foreach (var marker in await scatter.Locator(".apexcharts-series-markers .apexcharts-marker").AllAsync())
                {
                    await HoverAsync(page, scatter, marker);
                    var pointTitle = scatter.Locator(".apexcharts-tooltip-title");
                    await Assertions.Expect(pointTitle).ToBeVisibleAsync();
                    Assert.DoesNotContain("<img", await pointTitle.InnerHTMLAsync());
                    pointTitles.Add(await pointTitle.InnerTextAsync());
                }
                Assert.Contains(pointTitles, t => t.Contains(ModelName, StringComparison.Ordinal));
                await CheckAsync("correlation");

                // The other pages of the app and the two that are not Blazor's, under the same policy.
                foreach (var path in new[] { "measure", "scalar/", "hangfire" })
                {
                    await page.GotoAsync(path);
                    await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
                    await CheckAsync(path);
                }
                await page.OpenAsync("measure");
                await page.Locator("[data-testid=models-select]").ClickAsync();
                await Assertions.Expect(page.Locator(".mud-popover-open .mud-list-item", new() { HasText = ModelName })).ToBeVisibleAsync();
                await CheckAsync("measure form");

                foreach (var document in documents)
                {
                    var policy = await document.HeaderValueAsync("content-security-policy") ?? "";
                    Assert.True(policy.Contains("frame-ancestors 'none'", StringComparison.Ordinal) && !policy.Contains("unsafe-eval", StringComparison.Ordinal),
                        $"{document.Url}: '{policy}'");
                }
                Assert.True(documents.Count >= 12, $"{documents.Count} documents");

                // Had markup got through, the policy would still stop its script: an injected inline script and an
                // inline event handler do not run, and the browser reports both (so the listener above hears violations).
                await page.EvaluateAsync("""
                    () => {
                        const s = document.createElement('script');
                        s.textContent = 'window.ranInjected = 1';
                        document.body.appendChild(s);
                        document.body.insertAdjacentHTML('beforeend', '<img src="x" onerror="window.ranInjected = 2">');
                    }
                    """);
                for (var wait = 0; violations.Count < 2 && wait < 30; wait++) await page.WaitForTimeoutAsync(100);
                Assert.Equal("nothing ran", await page.EvaluateAsync<string>("() => window.ranInjected === undefined ? 'nothing ran' : 'ran ' + window.ranInjected"));
                Assert.Contains(violations, v => v.Contains("inline script", StringComparison.Ordinal));
                Assert.Contains(violations, v => v.Contains("inline event handler", StringComparison.Ordinal));
                Assert.Empty(dialogs);
            });
        }
        finally
        {
            await browser.DisposeAsync();
            playwright.Dispose();
        }
    }

    /// <summary>Headers as the real Kestrel sends them, on pages, the error page and a 404.</summary>
    private static async Task AssertHeadersAsync(HttpClient api)
    {
        foreach (var (path, status) in new[] { ("", 200), ("models", 200), ("runs", 200), ("compare", 200), ("probesets", 200), ("error", 200), ("no-such-page", 404) })
        {
            using var r = await api.GetAsync(path);
            Assert.Equal((HttpStatusCode)status, r.StatusCode);
            var policy = Assert.Single(r.Headers.GetValues("Content-Security-Policy"));
            Assert.Contains("frame-ancestors 'none'", policy);
            Assert.Contains("script-src 'self'", policy);
            Assert.DoesNotContain("unsafe-eval", policy);
            Assert.Equal("nosniff", Assert.Single(r.Headers.GetValues("X-Content-Type-Options")));
        }
    }

    /// <summary>
    /// Moves the mouse over the plot area above the x-axis label of category <paramref name="index"/>, in steps as a
    /// hand would: ApexCharts fills its tooltip on the moves after the one that shows it.
    /// </summary>
    private static async Task HoverCategoryAsync(IPage page, ILocator chart, int index)
    {
        await chart.ScrollIntoViewIfNeededAsync();
        var label = (await chart.Locator(".apexcharts-xaxis-label").Nth(index).BoundingBoxAsync())!;
        var grid = (await chart.Locator(".apexcharts-grid").BoundingBoxAsync())!;
        await MoveToAsync(page, chart, label.X + label.Width / 2, grid.Y + grid.Height / 2);
    }

    /// <summary>Moves the mouse onto the middle of <paramref name="element"/> (a bar, a scatter point) of the chart, in steps.</summary>
    private static async Task HoverAsync(IPage page, ILocator chart, ILocator element)
    {
        await element.ScrollIntoViewIfNeededAsync();
        var box = (await element.BoundingBoxAsync())!;
        await MoveToAsync(page, chart, box.X + box.Width / 2, box.Y + box.Height / 2);
    }

    private static async Task MoveToAsync(IPage page, ILocator chart, float x, float y)
    {
        await page.Mouse.MoveAsync(x + 20, y - 20);
        await page.Mouse.MoveAsync(x, y, new() { Steps = 5 });
        await Assertions.Expect(chart.Locator(".apexcharts-tooltip.apexcharts-active")).ToHaveCountAsync(1);
    }

    /// <summary>The test zoo's tiny CNN with its first two activations named by markup and by a formula.</summary>
    private static byte[] HostileCnn()
    {
        var b = new OnnxGraphBuilder();
        var random = new Random(7);
        float[] W(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        const int c = 4;
        var x = b.Input("x", "N", 1, 28, 28);
        var r1 = b.Relu(b.Conv(x, W(c * 9), [c, 1, 3, 3], W(c), pads: [1], output: "conv1"), MarkupLayer);
        var r2 = b.Relu(b.Conv(r1, W(c * c * 9), [c, c, 3, 3], W(c), pads: [1], output: "conv2"), FormulaLayer);
        var r3 = b.Relu(b.Conv(r2, W(c * c * 9), [c, c, 3, 3], W(c), pads: [1], output: "conv3"), "relu3");
        var pool = b.GlobalAveragePool(r3, "pool");
        var logits = b.Gemm(b.Flatten(pool, output: "flat"), W(10 * c), 10, c, W(10), "logits");
        b.Output(logits, "N", 10);
        return b.ToBytes();
    }
}
