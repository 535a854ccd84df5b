using EquivarianceLab.Measure;
using EquivarianceLab.Reports;

namespace EquivarianceLab.Tests.Reports;

/// <summary>
/// CSV formula injection (OWASP): a text cell a spreadsheet would run as a formula opens as text instead — a leading
/// <c>'</c>, then the usual quoting — while numbers and plain names are written as they are.
/// </summary>
public sealed class CsvWriterTests
{
    [Theory]
    [InlineData("=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\"")]
    [InlineData("+1", "'+1")]
    [InlineData("-cmd", "'-cmd")]
    [InlineData("@SUM(A1:A2)", "'@SUM(A1:A2)")]
    [InlineData("\tx", "'\tx")]
    [InlineData("\rx", "\"'\rx\"")]
    [InlineData("=1+1,2", "\"'=1+1,2\"")]
    public void Text_that_starts_a_formula_is_neutralised(string text, string cell) =>
        Assert.Equal(cell, CsvWriter.Text(text));

    [Theory]
    [InlineData("conv1", "conv1")]
    [InlineData("Tiny CNN A", "Tiny CNN A")]
    [InlineData("a=b", "a=b")]
    [InlineData("layer, with comma", "\"layer, with comma\"")]
    [InlineData("", "")]
    [InlineData(null, "")]
    public void Plain_text_is_written_as_it_is(string? text, string cell) =>
        Assert.Equal(cell, CsvWriter.Text(text));

    [Fact]
    public void Numbers_are_untouched_even_when_negative()
    {
        Assert.Equal("-0.5", CsvWriter.Number(-0.5));
        Assert.Equal("-3", CsvWriter.Int(-3));
        Assert.Equal("", CsvWriter.Number(null));
    }

    [Fact]
    public void A_result_whose_names_start_a_formula_is_written_with_them_neutralised()
    {
        var result = new MeasurementResult
        {
            Model = "=cmd|' /C calc'!A0", Probe = "@probe", Transform = "rotation", Similarity = "pearson", Images = 8, MaxShift = 0,
            Layers =
            [
                new LayerResult
                {
                    Name = "=HYPERLINK(\"http://x\",\"y\")", Index = 0, Part = "Early", Shape = [4, 28, 28], Invariance = -0.5, Equivariance = 0.25,
                    PerTransform = new() { ["rot90"] = new Score(-0.5, 0.25) { InvarianceStderr = 0.125, InvarianceInterval = new Interval(-0.75, -0.25) } },
                },
                new LayerResult { Name = "relu2", Index = 1, Part = "Late", Shape = [4], Invariance = 1, Equivariance = 1, PerTransform = [] },
            ],
            Parts = new() { ["Early"] = new PartScore(-0.5, 0.25, 1) },
            Timing = new Timing(1, 1),
        };
        var lines = ResultCsv.Write(result).TrimEnd('\n').Split('\n');
        Assert.Equal(
        [
            ResultCsv.Header,
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",0,Early,4x28x28,mean,-0.5,0.25,,,,,,",
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",0,Early,4x28x28,rot90,-0.5,0.25,0.125,-0.75,-0.25,,,",
            "relu2,1,Late,4,mean,1,1,,,,,,",
            "part:Early,,Early,,mean,-0.5,0.25,,,,,,",
        ], lines);
    }
}
