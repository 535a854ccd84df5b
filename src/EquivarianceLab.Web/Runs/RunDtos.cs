using System.Text.Json;
using EquivarianceLab.Web.Data;

namespace EquivarianceLab.Web.Runs;

/// <summary>
/// <c>GET /api/runs/{id}</c>: status, progress in [0, 1], the error of a failure, and once done the engine's result.json;
/// the layers and logits layer the run asked for (null: the model's default selection); the queue it waits in, the
/// worker process that holds (or held) it, the device it ran on, and how often it was taken back from a dead worker;
/// <see cref="ModelFileChanged"/>: the model's file is no longer the one the run measured (its accuracy is another file's).
/// </summary>
public sealed record RunDto(int Id, string Status, double Progress, string? Error, JsonElement? Result, string ModelId, string ProbeSetId,
    string Transform, string Similarity, int? Images, int MaxShift, int ImagesDone, int ImagesTotal, double? EtaSeconds,
    DateTime CreatedUtc, DateTime? StartedUtc, DateTime? FinishedUtc, string? OwnerName, IReadOnlyList<string>? Layers, string? Logits,
    string Queue, string? Worker, string? Device, int Restarts, double[]? Angles = null, double[]? Shifts = null, bool ModelFileChanged = false)
{
    public static RunDto From(Run r, bool withResult = true) => new(r.Id, StatusName(r.Status), r.Progress, r.Error,
        withResult && r.ResultJson is { } json ? JsonDocument.Parse(json).RootElement.Clone() : null,
        r.ModelId, r.ProbeSetId, r.Transform, r.Similarity, r.Images, r.MaxShift, r.ImagesDone, r.ImagesTotal, r.EtaSeconds,
        r.CreatedUtc, r.StartedUtc, r.FinishedUtc, r.OwnerName, RunRequest.LayersOf(r).Layers, r.LogitsLayer,
        r.Queue, r.Worker, r.Device, r.Restarts,
        Measure.ContinuousFamilies.ResultAngles(RunRequest.ToOptions(r)), Measure.ContinuousFamilies.ResultShifts(RunRequest.ToOptions(r)),
        r.ModelFileChanged);

    public static string StatusName(RunStatus s) => s.ToString().ToLowerInvariant();
}

/// <summary>The id of a run just queued.</summary>
public sealed record CreatedRunDto(int Id);

/// <summary>
/// <c>GET /api/runs/{id}/feature-maps</c>: for one probe image, channel <see cref="Channel"/> of spatial layer
/// <see cref="Layer"/> under transform <see cref="Transform"/>, f(gX)_c (<see cref="Moved"/>) beside g·f(X)_c′
/// (<see cref="Reference"/>, c′ = <see cref="Partner"/>), each a PNG data URL of exactly <see cref="Width"/> ×
/// <see cref="Height"/> pixels on one colour scale (white 0, red +<see cref="Scale"/>, blue −<see cref="Scale"/>);
/// <see cref="Similarity"/> = S(c, c′) and <see cref="SelfSimilarity"/> = S(c, c) for this image, null for a degenerate channel.
/// </summary>
public sealed record FeatureMapDto(int Image, string Layer, int Channel, string Transform, int Partner, int Height, int Width,
    double? Similarity, double? SelfSimilarity, double Scale, string Moved, string Reference)
{
    public static FeatureMapDto From(FeatureMapView v) => new(v.Image, v.Layer, v.Channel, v.Transform, v.Partner, v.Height, v.Width,
        v.Similarity, v.SelfSimilarity, v.Scale, DataUrl(v.Moved), DataUrl(v.Reference));

    /// <summary>A PNG as a <c>data:</c> URL (what an img element shows; the security policy allows data: images).</summary>
    public static string DataUrl(byte[] png) => "data:image/png;base64," + Convert.ToBase64String(png);
}
