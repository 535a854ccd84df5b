using System.Text.Json;
using System.Text.Json.Serialization;
using EquivarianceLab.Web.Data;

namespace EquivarianceLab.Web.Api;

/// <summary>What the API shows of a model: results and card facts, never file-system paths.</summary>
public sealed record ModelDto(string Id, string Name, string Family, string Format, string? Architecture, string InputShape,
    double? Accuracy, string? AccuracyDataset, string Source, string? Provenance, long SizeBytes)
{
    public static ModelDto From(ModelEntry m) => new(m.Id, m.Name, m.Family, m.Format, m.Architecture, m.InputShape, m.Accuracy,
        m.AccuracyDataset, m.Source, m.Provenance, m.SizeBytes);
}

public sealed record ProbeSetDto(string Id, string Name, string Kind, string Source, int Count, string ImageShape, bool IsDefault, int Thumbnails)
{
    public static ProbeSetDto From(ProbeSetEntry p) => new(p.Id, p.Name, p.Kind, p.Source, p.Count, p.ImageShape, p.IsDefault, p.Thumbnails);
}

/// <summary><c>GET /api/runs/{id}</c>: status, progress in [0, 1], the error of a failure, and once done the engine's result.json.</summary>
public sealed record RunDto(int Id, string Status, double Progress, string? Error, JsonElement? Result, string ModelId, string ProbeSetId,
    string Transform, string Similarity, int? Images, int MaxShift, int ImagesDone, int ImagesTotal, double? EtaSeconds,
    DateTime CreatedUtc, DateTime? StartedUtc, DateTime? FinishedUtc)
{
    public static RunDto From(Run r, bool withResult = true) => new(r.Id, StatusName(r.Status), r.Progress, r.Error,
        withResult && r.ResultJson is { } json ? JsonDocument.Parse(json).RootElement.Clone() : null,
        r.ModelId, r.ProbeSetId, r.Transform, r.Similarity, r.Images, r.MaxShift, r.ImagesDone, r.ImagesTotal, r.EtaSeconds,
        r.CreatedUtc, r.StartedUtc, r.FinishedUtc);

    public static string StatusName(RunStatus s) => s.ToString().ToLowerInvariant();
}

public sealed record CreatedRunDto(int Id);

public sealed record ErrorDto(string Error);

public sealed record AccuracyDto(double? Accuracy);

internal static class ApiJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        // Shapes like 1×28×28 and model names stay readable; the API only ever serves JSON.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
