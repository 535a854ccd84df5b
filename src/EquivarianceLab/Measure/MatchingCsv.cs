using EquivarianceLab.Reports;

namespace EquivarianceLab.Measure;

/// <summary>
/// The CSV form of a result's channel matching (docs/measure.md, "Channel matching"): one row per layer, transform and
/// channel, with the layer's two summary numbers repeated on each row so a filtered sheet keeps them. <c>partners</c>
/// lists the most chosen partners as <c>c′:count</c> separated by spaces. Layers without matching have no rows.
/// </summary>
public static class MatchingCsv
{
    public const string Header =
        "layer,index,transform,channel,match,match_share,equivariance,invariance,partners,decisions,own_index_share,distinct_share";

    public static string Write(MeasurementResult result)
    {
        var csv = new CsvWriter(Header);
        foreach (var layer in result.Layers)
        {
            if (layer.Matching is null) continue;
            string name = CsvWriter.Text(layer.Name), index = CsvWriter.Int(layer.Index);
            foreach (var (key, matching) in layer.Matching)
            {
                string transform = CsvWriter.Text(key), decisions = CsvWriter.Int(matching.Decisions),
                    own = CsvWriter.Number(matching.OwnIndexShare), distinct = CsvWriter.Number(matching.DistinctShare);
                foreach (var row in matching.Rows())
                {
                    var partners = string.Join(' ', row.Partners.Zip(row.PartnerCounts, (p, n) => $"{CsvWriter.Int(p)}:{CsvWriter.Int(n)}"));
                    csv.Row(name, index, transform, CsvWriter.Int(row.Channel), CsvWriter.Int(row.Match), CsvWriter.Number(row.MatchShare),
                        CsvWriter.Number(row.Equivariance), CsvWriter.Number(row.Invariance), CsvWriter.Text(partners), decisions, own, distinct);
                }
            }
        }
        return csv.ToString();
    }
}
