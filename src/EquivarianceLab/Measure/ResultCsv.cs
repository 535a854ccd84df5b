using EquivarianceLab.Reports;

namespace EquivarianceLab.Measure;

/// <summary>
/// The CSV form of a result: one row per layer and transform, with <c>transform = mean</c> for the layer's score
/// (the mean over the family), then one row per part with <c>layer = part:&lt;Name&gt;</c>. Empty cells where no
/// non-degenerate pair existed. Each score's standard error and 95% interval over probe images follow the two scores
/// (appended, so the first seven columns read as before).
/// </summary>
public static class ResultCsv
{
    /// <summary>The columns <see cref="ScoreCells"/> writes after the two scores.</summary>
    public const string UncertaintyColumns = "invariance_stderr,invariance_low,invariance_high,equivariance_stderr,equivariance_low,equivariance_high";

    public const string Header = "layer,index,part,shape,transform,invariance,equivariance," + UncertaintyColumns;

    public static string Write(MeasurementResult result)
    {
        var csv = new CsvWriter(Header);
        foreach (var layer in result.Layers)
        {
            // Names (the ONNX tensor's, the part's, the transform key) are text cells: a result file may be anyone's.
            string name = CsvWriter.Text(layer.Name), index = CsvWriter.Int(layer.Index), part = CsvWriter.Text(layer.Part),
                shape = CsvWriter.Text(string.Join("x", layer.Shape));
            csv.Row([name, index, part, shape, "mean", .. ScoreCells(layer.Invariance, layer.Equivariance, layer)]);
            foreach (var (key, score) in layer.PerTransform)
                csv.Row([name, index, part, shape, CsvWriter.Text(key), .. ScoreCells(score.Invariance, score.Equivariance, score)]);
        }
        foreach (var (part, score) in result.Parts)
            csv.Row([CsvWriter.Text($"part:{part}"), "", CsvWriter.Text(part), "", "mean", .. ScoreCells(score.Invariance, score.Equivariance, score)]);
        return csv.ToString();
    }

    /// <summary>The two scores, then each one's standard error, interval low and high (empty where null).</summary>
    public static string[] ScoreCells(double? invariance, double? equivariance, Uncertainty u) =>
    [
        CsvWriter.Number(invariance), CsvWriter.Number(equivariance),
        CsvWriter.Number(u.InvarianceStderr), CsvWriter.Number(u.InvarianceInterval?.Low), CsvWriter.Number(u.InvarianceInterval?.High),
        CsvWriter.Number(u.EquivarianceStderr), CsvWriter.Number(u.EquivarianceInterval?.Low), CsvWriter.Number(u.EquivarianceInterval?.High),
    ];
}
