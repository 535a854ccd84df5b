using EquivarianceLab.Reports;

namespace EquivarianceLab.Measure;

/// <summary>
/// The CSV form of a result: one row per layer and transform, with <c>transform = mean</c> for the layer's score
/// (the mean over the family), then one row per part with <c>layer = part:&lt;Name&gt;</c>. Empty cells where no
/// non-degenerate pair existed.
/// </summary>
public static class ResultCsv
{
    public const string Header = "layer,index,part,shape,transform,invariance,equivariance";

    public static string Write(MeasurementResult result)
    {
        var csv = new CsvWriter(Header);
        foreach (var layer in result.Layers)
        {
            // Names (the ONNX tensor's, the part's, the transform key) are text cells: a result file may be anyone's.
            string name = CsvWriter.Text(layer.Name), index = CsvWriter.Int(layer.Index), part = CsvWriter.Text(layer.Part),
                shape = CsvWriter.Text(string.Join("x", layer.Shape));
            csv.Row(name, index, part, shape, "mean", CsvWriter.Number(layer.Invariance), CsvWriter.Number(layer.Equivariance));
            foreach (var (key, score) in layer.PerTransform)
                csv.Row(name, index, part, shape, CsvWriter.Text(key), CsvWriter.Number(score.Invariance), CsvWriter.Number(score.Equivariance));
        }
        foreach (var (part, score) in result.Parts)
            csv.Row(CsvWriter.Text($"part:{part}"), "", CsvWriter.Text(part), "", "mean", CsvWriter.Number(score.Invariance), CsvWriter.Number(score.Equivariance));
        return csv.ToString();
    }
}
