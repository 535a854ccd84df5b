using EquivarianceLab.Web.Data;

namespace EquivarianceLab.Web.ProbeSets;

/// <summary>What the API shows of a probe set: never where its file lives.</summary>
public sealed record ProbeSetDto(string Id, string Name, string Kind, string Source, int Count, string ImageShape, bool IsDefault, int Thumbnails, string? OwnerName)
{
    public static ProbeSetDto From(ProbeSetEntry p) => new(p.Id, p.Name, p.Kind, p.Source, p.Count, p.ImageShape, p.IsDefault, p.Thumbnails, p.OwnerName);
}
