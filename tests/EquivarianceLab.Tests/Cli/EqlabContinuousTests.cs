using System.Globalization;
using System.Text.Json;

namespace EquivarianceLab.Tests.Cli;

/// <summary>
/// <c>eqlab measure --transform rotation-continuous|translation-continuous</c> as a user runs it (issue 16, item 3):
/// result.json, the CSV and the tables with the new keys, and every bad <c>--angles</c> / <c>--shifts</c>.
/// </summary>
public sealed class EqlabContinuousTests(EqlabFixture fixture) : IClassFixture<EqlabFixture>
{
    [Fact]
    public void Rotation_continuous_at_90_degrees_gives_what_rotation_gives_for_rot90()
    {
        string[] Measure(string transform, string json, params string[] more) =>
            ["measure", "--model", fixture.Model, "--probe", fixture.Probe, "--transform", transform, "--images", "5", "--batch", "2", "--out", json, .. more];
        var continuous = Eqlab.Run(fixture.Folder, Measure("rotation-continuous", "rc.json", "--angles", "90", "--csv", "rc.csv", "--per-layer"));
        Assert.True(continuous.ExitCode == 0, continuous.ToString());
        var discrete = Eqlab.Run(fixture.Folder, Measure("rotation", "r.json"));
        Assert.True(discrete.ExitCode == 0, discrete.ToString());

        using var rc = JsonDocument.Parse(File.ReadAllText(fixture.File("rc.json")));
        using var r = JsonDocument.Parse(File.ReadAllText(fixture.File("r.json")));
        Assert.Equal("rotation-continuous", rc.RootElement.GetProperty("transform").GetString());
        Assert.Equal([90.0], rc.RootElement.GetProperty("angles").EnumerateArray().Select(e => e.GetDouble()));
        Assert.False(rc.RootElement.TryGetProperty("shifts", out _));
        Assert.False(r.RootElement.TryGetProperty("angles", out _));

        // A quarter turn resamples onto pixel centres and keeps the whole grid: the same scores as rot90.
        var discreteLayers = r.RootElement.GetProperty("layers").EnumerateArray().ToDictionary(l => l.GetProperty("name").GetString()!);
        foreach (var layer in rc.RootElement.GetProperty("layers").EnumerateArray())
        {
            var name = layer.GetProperty("name").GetString()!;
            var per = layer.GetProperty("perTransform");
            Assert.Equal(["rot90"], per.EnumerateObject().Select(p => p.Name));
            var expected = discreteLayers[name].GetProperty("perTransform").GetProperty("rot90");
            foreach (var score in new[] { "invariance", "equivariance" })
            {
                double e = expected.GetProperty(score).GetDouble(), a = per.GetProperty("rot90").GetProperty(score).GetDouble();
                Assert.True(Math.Abs(e - a) <= 1e-5, $"{name} {score}: rotation {e}, rotation-continuous {a}");
            }
        }

        // The CSV's transform column holds the key; the tables name the family.
        var rows = File.ReadAllLines(fixture.File("rc.csv")).Skip(1).Where(l => l.Length > 0 && !l.StartsWith("part:", StringComparison.Ordinal)).Select(l => l.Split(',')).ToList();
        Assert.All(rows.GroupBy(row => row[0]), layer => Assert.Equal(["mean", "rot90"], layer.Select(row => row[4])));
        Assert.Contains(" · rotation-continuous · ", continuous.Stdout);
        Assert.Contains("relu1", continuous.Stdout); // the per-layer table
    }

    [Fact]
    public void Translation_continuous_writes_one_row_per_sub_pixel_shift()
    {
        var run = Eqlab.Run(fixture.Folder, "measure", "--model", fixture.Model, "--probe", fixture.Probe,
            "--transform", "translation-continuous", "--shifts", "0.5, 1.5", "--images", "4", "--out", "tc.json", "--csv", "tc.csv");
        Assert.True(run.ExitCode == 0, run.ToString());

        using var json = JsonDocument.Parse(File.ReadAllText(fixture.File("tc.json")));
        Assert.Equal("translation-continuous", json.RootElement.GetProperty("transform").GetString());
        Assert.Equal([0.5, 1.5], json.RootElement.GetProperty("shifts").EnumerateArray().Select(e => e.GetDouble()));
        var rows = File.ReadAllLines(fixture.File("tc.csv")).Skip(1).Where(l => l.Length > 0 && !l.StartsWith("part:", StringComparison.Ordinal)).Select(l => l.Split(',')).ToList();
        Assert.All(rows.GroupBy(row => row[0]), layer => Assert.Equal(["mean", "shift0.5", "shift1.5"], layer.Select(row => row[4])));
        Assert.All(rows, row => Assert.True(double.TryParse(row[6], NumberStyles.Float, CultureInfo.InvariantCulture, out _), string.Join(",", row)));
    }

    [Theory]
    [InlineData("rotation-continuous", "--angles", "abc", new[] { "--angles", "abc" })]
    [InlineData("rotation-continuous", "--angles", "15;30", new[] { "--angles", "15;30" })]
    [InlineData("rotation-continuous", "--angles", "0", new[] { "--angles", "non-zero" })]
    [InlineData("rotation-continuous", "--angles", "NaN", new[] { "--angles", "finite" })]
    [InlineData("rotation-continuous", "--angles", "15,30,15", new[] { "--angles", "15 more than once" })]
    [InlineData("rotation-continuous", "--angles", "400", new[] { "--angles", "360" })]
    [InlineData("rotation", "--angles", "45", new[] { "--angles", "rotation-continuous only" })]
    [InlineData("translation-continuous", "--angles", "45", new[] { "--angles", "rotation-continuous only" })]
    [InlineData("translation", "--shifts", "0.5", new[] { "--shifts", "translation-continuous only" })]
    [InlineData("translation-continuous", "--shifts", "0.5,x", new[] { "--shifts", "0.5,x" })]
    [InlineData("translation-continuous", "--shifts", "6.5", new[] { "--shifts", "6.5", "at most 6" })]
    public void Bad_angles_and_shifts_give_one_clear_line_on_stderr(string transform, string option, string value, string[] mentions)
    {
        var run = Eqlab.Run(fixture.Folder, "measure", "--model", fixture.Model, "--probe", fixture.Probe, "--transform", transform, option, value);
        AssertOneClearLine(run, mentions);
    }

    [Fact]
    public void Rotation_continuous_refuses_non_square_images()
    {
        var run = Eqlab.Run(fixture.Folder, "measure", "--model", fixture.FreeModel, "--probe", fixture.NonSquareProbe, "--transform", "rotation-continuous");
        AssertOneClearLine(run, ["square", "8×10"]);
    }

    private static void AssertOneClearLine(EqlabRun run, string[] mentions)
    {
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.True(run.StderrLines.Length == 1, $"expected exactly one line on stderr:\n{run}");
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.DoesNotContain("Exception", run.Stderr);
        foreach (var mention in mentions)
            Assert.True(run.StderrLines[0].Contains(mention, StringComparison.Ordinal), $"the message should mention '{mention}':\n{run}");
    }
}
