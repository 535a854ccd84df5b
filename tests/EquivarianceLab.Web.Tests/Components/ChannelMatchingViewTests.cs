using EquivarianceLab.Measure;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Results;
using EquivarianceLab.Web.Runs;
using EquivarianceLab.Web.Runs.Pages;
using EquivarianceLab.Web.Tests.Fakes;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;

namespace EquivarianceLab.Web.Tests.Components;

/// <summary>The run page's channel matching: the per-layer summary, the selected layer's table and heat map, and the URL as state.</summary>
public sealed class ChannelMatchingViewTests : MudTestBase
{
    /// <summary>
    /// A synthetic rotation run where every layer's matching is known: channel c of a C-channel layer matches
    /// (c + k) mod C under rot(90k) in every image where it has a partner (images 0…c of C) — a permutation, never the own index.
    /// </summary>
    private Run AddRunWithMatching()
    {
        AddProbeSet();
        AddModel("cnn-a", "CNN A", 90);
        return AddDoneRun("cnn-a", edit: plain => plain with
        {
            Layers = [.. plain.Layers.Select(l => l with
            {
                Matching = l.PerTransform.Keys.ToDictionary(k => k, k => Permutation((int)l.Shape[0], int.Parse(k[3..]) / 90)),
            })],
        });
    }

    private static ChannelMatching Permutation(int channels, int k)
    {
        var choices = new ChannelChoices().Resize(channels, channels);
        var accumulator = new ChannelMatchAccumulator();
        // `channels` images; in image i channel c has its partner when i ≤ c, and none (a degenerate map) after that.
        for (int i = 0; i < channels; i++)
            for (int c = 0; c < channels; c++)
            {
                choices.Partner[i * channels + c] = i <= c ? (c + k) % channels : -1;
                choices.Best[i * channels + c] = i <= c ? 0.5f + 0.01f * c : float.NaN;
                choices.Diagonal[i * channels + c] = i <= c ? 0.25f : float.NaN;
            }
        accumulator.Add(choices);
        return accumulator.ToMatching();
    }

    [Fact]
    public void The_summary_lists_every_layer_and_the_table_the_selected_layers_channels()
    {
        var run = AddRunWithMatching();
        var cut = Render<RunDetails>(ps => ps.Add(p => p.RunId, run.Id));
        var result = MeasurementResult.FromJson(run.ResultJson!);

        var summary = cut.FindAll("[data-testid=matching-summary] tbody tr");
        Assert.Equal(result.Layers.Count, summary.Count);
        // The matches are a permutation, never the own index.
        Assert.All(summary, row => Assert.Contains("0.00 / 1.00", row.TextContent));

        // The first layer by default: its channels, 16 to a page, and the heat map of it under rot90.
        var first = result.Layers[0];
        var rows = cut.FindAll("[data-testid=matching-table] tbody tr");
        Assert.Equal(Math.Min(16, (int)first.Shape[0]), rows.Count);
        var cells = rows[0].QuerySelectorAll("td").Select(td => td.TextContent.Trim()).ToList();
        int channels = (int)first.Shape[0];
        Assert.Equal("0", cells[0]);
        Assert.Equal((1 % channels).ToString(System.Globalization.CultureInfo.InvariantCulture), cells[1]);
        Assert.Equal("1.00", cells[2]);
        Assert.Equal("0.500", cells[3]);
        Assert.Equal("0.250", cells[4]);
        Assert.Equal($"{1 % channels} (1)", cells[5]); // chosen in image 0 only
        var heatmap = cut.Find("[data-testid=matching-heatmap]").GetAttribute("src");
        Assert.Equal($"api/runs/{run.Id}/matching.png?layer={Uri.EscapeDataString(first.Name)}&transform=rot90", heatmap);
    }

    [Fact]
    public void Choosing_a_layer_puts_it_in_the_url_and_the_url_selects_layer_and_transform()
    {
        var run = AddRunWithMatching();
        var result = MeasurementResult.FromJson(run.ResultJson!);
        var nav = Services.GetRequiredService<NavigationManager>();
        var cut = Render<RunDetails>(ps => ps.Add(p => p.RunId, run.Id));

        cut.FindAll("[data-testid=matching-layer-link]")[1].Click();
        Assert.Contains($"matchLayer={Uri.EscapeDataString(result.Layers[1].Name)}", nav.Uri);
        Assert.Contains("matchTransform=rot90", nav.Uri);

        nav.NavigateTo(nav.GetUriWithQueryParameters(new Dictionary<string, object?> { ["matchLayer"] = result.Layers[2].Name, ["matchTransform"] = "rot270" }));
        var second = Render<RunDetails>(ps => ps.Add(p => p.RunId, run.Id));
        Assert.Contains($"layer={Uri.EscapeDataString(result.Layers[2].Name)}&transform=rot270", second.Find("[data-testid=matching-heatmap]").GetAttribute("src"));
        // Under rot270 channel 0 matches 3 mod C.
        var c0 = second.FindAll("[data-testid=matching-table] tbody tr")[0].QuerySelectorAll("td").Select(td => td.TextContent.Trim()).ToList();
        Assert.Equal((3 % (int)result.Layers[2].Shape[0]).ToString(System.Globalization.CultureInfo.InvariantCulture), c0[1].Replace(" (itself)", ""));
    }

    [Fact]
    public void A_run_without_matching_says_so()
    {
        AddProbeSet();
        AddModel("cnn-a", "CNN A", 90);
        var run = AddDoneRun("cnn-a", edit: r => r with { Layers = [.. r.Layers.Select(l => l with { Matching = null })] });
        var cut = Render<RunDetails>(ps => ps.Add(p => p.RunId, run.Id));
        Assert.Contains("did not keep its channel matching", cut.Find("[data-testid=matching-missing]").TextContent);
    }
}
