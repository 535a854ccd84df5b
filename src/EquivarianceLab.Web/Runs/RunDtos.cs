using System.Text.Json;
using EquivarianceLab.Web.Data;

namespace EquivarianceLab.Web.Runs;

/// <summary>
/// <c>GET /api/runs/{id}</c>: status, progress in [0, 1], the error of a failure, and once done the engine's result.json;
/// the layers and logits layer the run asked for (null: the model's default selection); the queue it waits in, the
/// worker process that holds (or held) it, the device it ran on, and how often it was taken back from a dead worker.
/// </summary>
public sealed record RunDto(int Id, string Status, double Progress, string? Error, JsonElement? Result, string ModelId, string ProbeSetId,
    string Transform, string Similarity, int? Images, int MaxShift, int ImagesDone, int ImagesTotal, double? EtaSeconds,
    DateTime CreatedUtc, DateTime? StartedUtc, DateTime? FinishedUtc, string? OwnerName, IReadOnlyList<string>? Layers, string? Logits,
    string Queue, string? Worker, string? Device, int Restarts)
{
    public static RunDto From(Run r, bool withResult = true) => new(r.Id, StatusName(r.Status), r.Progress, r.Error,
        withResult && r.ResultJson is { } json ? JsonDocument.Parse(json).RootElement.Clone() : null,
        r.ModelId, r.ProbeSetId, r.Transform, r.Similarity, r.Images, r.MaxShift, r.ImagesDone, r.ImagesTotal, r.EtaSeconds,
        r.CreatedUtc, r.StartedUtc, r.FinishedUtc, r.OwnerName, RunRequest.LayersOf(r).Layers, r.LogitsLayer,
        r.Queue, r.Worker, r.Device, r.Restarts);

    public static string StatusName(RunStatus s) => s.ToString().ToLowerInvariant();
}

/// <summary>The id of a run just queued.</summary>
public sealed record CreatedRunDto(int Id);
