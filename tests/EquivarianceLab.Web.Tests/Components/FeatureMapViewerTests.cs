using EquivarianceLab.Measure;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Runs;
using EquivarianceLab.Web.Runs.Pages;
using EquivarianceLab.Web.Storage;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;

namespace EquivarianceLab.Web.Tests.Components;

/// <summary>
/// The run page's feature-map viewer over the real service and store (the library faked): maps shown from a link,
/// chosen with Show (the choice going into the URL), labelled with c, c′ and the similarities; a failure shown as text.
/// </summary>
public sealed class FeatureMapViewerTests : MudTestBase
{
    /// <summary>A finished synthetic run whose probe set has a file in the store (the service fetches it for the worker).</summary>
    private async Task<Run> AddDoneRunWithFilesAsync()
    {
        AddModel("cnn-a", "CNN A", 90);
        AddProbeSet();
        var hash = await Services.GetRequiredService<StoredFiles>().KeepAsync([1, 2, 3], "probe.gz", CancellationToken.None);
        using (var db = DbFactory.CreateDbContext())
        {
            db.ProbeSets.Single(p => p.Id == "fashion-mnist-test").ContentHash = hash;
            db.SaveChanges();
        }
        return AddDoneRun("cnn-a");
    }

    [Fact]
    public async Task A_link_naming_a_layer_shows_both_maps_at_grid_size_labelled_with_the_partner_and_the_similarities()
    {
        var run = await AddDoneRunWithFilesAsync();
        var cut = RenderAt<RunDetails>($"runs/{run.Id}?mapImage=1&mapLayer=conv2&mapChannel=3&mapTransform=rot180", ps => ps.Add(p => p.RunId, run.Id));

        cut.WaitForElement("[data-testid=fm-reference] img");
        var images = cut.FindAll("[data-testid=feature-maps] img");
        Assert.Equal(2, images.Count);
        foreach (var img in images)
        {
            var src = img.GetAttribute("src")!;
            Assert.StartsWith("data:image/png;base64,", src);
            using var bitmap = SKBitmap.Decode(Convert.FromBase64String(src["data:image/png;base64,".Length..]));
            Assert.Equal((28, 28), (bitmap.Width, bitmap.Height));
            // Drawn at 8× by the browser, without smoothing.
            Assert.Contains("width:224px", img.GetAttribute("style"));
            Assert.Contains("image-rendering:pixelated", img.GetAttribute("style"));
        }
        Assert.Equal("f(gX)_c (c = 3)", cut.Find("[data-testid=fm-moved] figcaption").TextContent);
        Assert.Equal("g·f(X)_c′ (c′ = 4)", cut.Find("[data-testid=fm-reference] figcaption").TextContent);
        var numbers = cut.Find("[data-testid=fm-similarity]").TextContent;
        Assert.Contains("S(c, c′) = 0.900", numbers);
        Assert.Contains("S(c, c) = 0.500", numbers);
        Assert.Contains("image 1, layer conv2, g = rot180", numbers);
        Assert.Equal(1, Runner.FeatureMapsComputed);
        // Only the spatial layers are offered (the synthetic pool and logits are vectors).
        Assert.Equal(["conv1", "conv2", "conv3", "conv4", "conv5", "conv6"],
            FeatureMapService.SpatialLayers(MeasurementResult.FromJson(run.ResultJson!)).Select(l => l.Layer.Name));
    }

    [Fact]
    public async Task Show_puts_the_choice_in_the_url_and_a_failure_is_shown_as_text()
    {
        var run = await AddDoneRunWithFilesAsync();
        Runner.FailFor = _ => new EquivarianceLabException("<b>broken</b> model");
        var cut = RenderAt<RunDetails>($"runs/{run.Id}", ps => ps.Add(p => p.RunId, run.Id));
        Assert.Empty(cut.FindAll("[data-testid=feature-maps] img")); // nothing computed before Show

        await cut.InvokeAsync(() => cut.Find("[data-testid=fm-show]").Click());
        cut.WaitForAssertion(() => Assert.Equal($"The feature maps of run {run.Id} could not be computed: <b>broken</b> model",
            cut.Find("[data-testid=fm-error]").TextContent.Trim()));
        Assert.Empty(cut.FindAll("[data-testid=fm-error] b"));
        var uri = Services.GetRequiredService<NavigationManager>().Uri;
        Assert.Contains("mapImage=0&mapLayer=conv1&mapChannel=0&mapTransform=rot90", uri);

        // Once the library answers, Show draws the same choice.
        Runner.FailFor = _ => null;
        await cut.InvokeAsync(() => cut.Find("[data-testid=fm-show]").Click());
        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll("[data-testid=feature-maps] img").Count));
        Assert.Empty(cut.FindAll("[data-testid=fm-error]"));
        Assert.Equal("g·f(X)_c′ (c′ = 1)", cut.Find("[data-testid=fm-reference] figcaption").TextContent);
    }
}

/// <summary>The two PNGs: one pixel per position, on one colour scale for both.</summary>
public sealed class FeatureMapImagesTests
{
    [Fact]
    public void Both_maps_share_one_diverging_scale_set_by_the_largest_value_of_either()
    {
        var pair = new FeatureMapPair
        {
            Image = 0, Layer = "conv1", Channel = 0, Transform = "rot90", Partner = 1, Height = 2, Width = 3,
            Moved = [0, 1, -2, 4, 0, 0], Reference = [2, 0, 0, -4, 0, float.NaN],
        };
        var view = FeatureMapImages.Draw(pair);
        Assert.Equal(4, view.Scale);
        using var moved = SKBitmap.Decode(view.Moved);
        using var reference = SKBitmap.Decode(view.Reference);
        Assert.Equal((3, 2), (moved.Width, moved.Height));
        Assert.Equal((3, 2), (reference.Width, reference.Height));
        Assert.Equal(new SKColor(255, 255, 255), moved.GetPixel(0, 0));       // 0: white
        Assert.Equal(new SKColor(178, 24, 43), moved.GetPixel(0, 1));         // +4 (row 1, column 0): full red
        Assert.Equal(new SKColor(33, 102, 172), reference.GetPixel(0, 1));    // −4: full blue
        // +2 in the other map is half-way to red: the scale is the pair's, not each map's own.
        var half = reference.GetPixel(0, 0);
        Assert.True(Math.Abs(half.Red - (255 + 178) / 2.0) <= 1 && Math.Abs(half.Green - (255 + 24) / 2.0) <= 1 && Math.Abs(half.Blue - (255 + 43) / 2.0) <= 1,
            half.ToString());
        Assert.Equal(new SKColor(0, 0, 0), reference.GetPixel(2, 1));        // not a number: black
    }
}
