using EquivarianceLab.Web.Data;

namespace EquivarianceLab.Web.Models;

/// <summary>
/// What the API shows of a model: results and card facts, never file-system paths. <c>AccuracyReportedBy</c> is set when
/// the accuracy is its publisher's figure, not one measured by the project.
/// </summary>
public sealed record ModelDto(string Id, string Name, string Family, string Format, string? Architecture, string InputShape,
    double? Accuracy, string? AccuracyDataset, string? AccuracyReportedBy, string Source, string? Provenance, long SizeBytes, string? OwnerName)
{
    public static ModelDto From(ModelEntry m) => new(m.Id, m.Name, m.Family, m.Format, m.Architecture, m.InputShape, m.Accuracy,
        m.AccuracyDataset, CardJson.Parse(m.CardJson).AccuracyReportedBy, m.Source, m.Provenance, m.SizeBytes, m.OwnerName);
}

/// <summary><c>PATCH /api/models/{id}</c>: the accuracy in percent, or null to clear it.</summary>
public sealed record AccuracyDto(double? Accuracy);
