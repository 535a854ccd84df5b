namespace EquivarianceLab.Web.Data;

/// <summary>Where a catalogue entry came from: the repository's zoo / built-in data, or an upload.</summary>
public static class Sources
{
    public const string Zoo = "zoo", BuiltIn = "builtin", Upload = "upload";
}

/// <summary>A model the app can measure: a zoo entry (models/&lt;id&gt;/card.json) or an uploaded file.</summary>
public sealed class ModelEntry
{
    /// <summary>Zoo id, or "upload-" + the first 12 hex digits of the file's SHA-256.</summary>
    public required string Id { get; set; }
    public required string Name { get; set; }
    public string Family { get; set; } = "CNN";
    /// <summary>onnx, torchsharp or pytorch.</summary>
    public required string Format { get; set; }
    public string? Architecture { get; set; }
    public required string Source { get; set; }
    /// <summary>
    /// The name the file is opened under (its extension tells the loader the format); with <see cref="ContentHash"/>
    /// it finds the file in the store (Storage/StoredFiles.cs). A built-in control has no file: this is its builtin: name.
    /// </summary>
    public required string FileName { get; set; }
    /// <summary>Where an older version kept the file on the node that received it; moved into the store at start, then null.</summary>
    public string? LegacyPath { get; set; }
    /// <summary>The model card as JSON (the card the job loads the model with).</summary>
    public required string CardJson { get; set; }
    /// <summary>[C, H, W] as "C×H×W".</summary>
    public required string InputShape { get; set; }
    /// <summary>Accuracy in percent; editable in the app (the correlation study reads it).</summary>
    public double? Accuracy { get; set; }
    public string? AccuracyDataset { get; set; }
    public string? Provenance { get; set; }
    /// <summary>SHA-256 of the file, its address in the store; null only for a built-in control.</summary>
    public string? ContentHash { get; set; }
    public long SizeBytes { get; set; }
    public DateTime AddedUtc { get; set; }
    /// <summary>Who made it: an account's id and name; null for the zoo, built-ins and what the local user made without accounts.</summary>
    public string? OwnerId { get; set; }
    public string? OwnerName { get; set; }
    /// <summary>
    /// The model's measurable layers as the worker listed them (JSON array of {name, shape, op, part, default}), kept
    /// so listing them opens no file; null until first listed.
    /// </summary>
    public string? LayersJson { get; set; }
}

/// <summary>A probe set: the built-in Fashion-MNIST test set or an uploaded .npy / .zip of images.</summary>
public sealed class ProbeSetEntry
{
    public required string Id { get; set; }
    public required string Name { get; set; }
    /// <summary>idx, npy or images.</summary>
    public required string Kind { get; set; }
    public required string Source { get; set; }
    /// <summary>The name the file is opened under (its extension tells the loader the format); found in the store by <see cref="ContentHash"/>.</summary>
    public required string FileName { get; set; }
    /// <summary>Where an older version kept the file on the node that received it; moved into the store at start, then null.</summary>
    public string? LegacyPath { get; set; }
    public int Count { get; set; }
    /// <summary>Image shape [C, H, W] as "C×H×W"; empty for image archives (decoded to each model's input).</summary>
    public string ImageShape { get; set; } = "";
    public bool IsDefault { get; set; }
    public string? ContentHash { get; set; }
    public long SizeBytes { get; set; }
    public int Thumbnails { get; set; }
    /// <summary>The thumbnails' SHA-256s in the store, space-separated, in order (PNGs).</summary>
    public string? ThumbnailHashes { get; set; }
    public DateTime AddedUtc { get; set; }
    /// <summary>Who made it: an account's id and name; null for the zoo, built-ins and what the local user made without accounts.</summary>
    public string? OwnerId { get; set; }
    public string? OwnerName { get; set; }
}

public enum RunStatus { Queued, Running, Done, Failed, Cancelled }

/// <summary>One measurement of one model: its settings, live progress, and once done the stored result.</summary>
public sealed class Run
{
    public int Id { get; set; }
    public required string ModelId { get; set; }
    public required string ProbeSetId { get; set; }
    /// <summary>rotation, translation or flip.</summary>
    public required string Transform { get; set; }
    /// <summary>pearson or cosine.</summary>
    public required string Similarity { get; set; }
    /// <summary>Requested image count; null = the engine's default.</summary>
    public int? Images { get; set; }
    public int MaxShift { get; set; } = 16;
    /// <summary>The layers the user chose, in forward order, one per line; null = the model's default selection.</summary>
    public string? RequestedLayers { get; set; }
    /// <summary>The tensor the user named as logits (the Final part); null = the model's own.</summary>
    public string? LogitsLayer { get; set; }
    public RunStatus Status { get; set; }
    public int ImagesDone { get; set; }
    public int ImagesTotal { get; set; }
    public double? EtaSeconds { get; set; }
    public string? Error { get; set; }
    /// <summary>Changes on every (re-)queue; a job whose token no longer matches is stale and does nothing.</summary>
    public string AttemptToken { get; set; } = "";
    public string? HangfireJobId { get; set; }
    /// <summary>The Hangfire queue it waits in: cpu (default) or gpu (docs/deploy.md, "Queues").</summary>
    public string Queue { get; set; } = "cpu";
    /// <summary>The worker process that holds (or last held) it: machine, process id and a random part, unique per process.</summary>
    public string? Worker { get; set; }
    /// <summary>Where it was measured: cpu or cuda.</summary>
    public string? Device { get; set; }
    /// <summary>
    /// Until when <see cref="Worker"/> owns the running run; renewed by its heartbeat. Past it, any node queues the run
    /// again (Runs/RunService.Leases.cs).
    /// </summary>
    public DateTime? LeaseExpiresUtc { get; set; }
    /// <summary>
    /// Fencing token: raised whenever the run changes hands (claimed, taken back after an expired lease). A worker's
    /// progress and result writes carry the value it claimed with, and are refused once it has changed.
    /// </summary>
    public int Fence { get; set; }
    public int Restarts { get; set; }
    public bool CancelRequested { get; set; }
    public DateTime CreatedUtc { get; set; }
    /// <summary>Who queued it: an account's id and name; null when the local user did without accounts.</summary>
    public string? OwnerId { get; set; }
    public string? OwnerName { get; set; }
    public DateTime? StartedUtc { get; set; }
    public DateTime? FinishedUtc { get; set; }
    /// <summary>
    /// rotation-continuous / translation-continuous: the angles or shifts asked for, comma-separated (invariant culture);
    /// null for the family's defaults and for the other families.
    /// </summary>
    public string? TransformValues { get; set; }
    /// <summary>The engine's result.json once done.</summary>
    public string? ResultJson { get; set; }
    /// <summary>
    /// The SHA-256 of the model file this run measured, recorded when it finished (null for a built-in model, which
    /// has no file). A model's file can change under its id — a zoo checkpoint retrained in a new release — and then
    /// the model's accuracy and feature maps are no longer this run's (<see cref="ModelFileChanged"/>).
    /// </summary>
    public string? ModelContentHash { get; set; }

    public ModelEntry? Model { get; set; }
    public ProbeSetEntry? ProbeSet { get; set; }
    public List<LayerScore> Layers { get; set; } = [];
    public List<PartScoreRow> Parts { get; set; } = [];

    /// <summary>
    /// The model's file is not the one this run measured: its accuracy belongs to another file, so the run counts in
    /// no correlation, and its feature maps are drawn from the file it measured (Runs/FeatureMapService.cs).
    /// </summary>
    public bool ModelFileChanged => ModelContentHash is not null && Model is not null && Model.ContentHash != ModelContentHash;

    /// <summary>
    /// The hash of the file this run measured: the one it recorded, else (a run from before runs recorded it) its
    /// model's; null for a built-in control. The feature maps are drawn from it and cached under it.
    /// </summary>
    public string? MeasuredModelHash => ModelContentHash ?? Model?.ContentHash;

    public double Progress => Status == RunStatus.Done ? 1 : ImagesTotal > 0 ? Math.Clamp((double)ImagesDone / ImagesTotal, 0, 1) : 0;
    public bool IsActive => Status is RunStatus.Queued or RunStatus.Running;
}

public sealed class LayerScore : IStoredUncertainty
{
    public int Id { get; set; }
    public int RunId { get; set; }
    public int Index { get; set; }
    public required string Name { get; set; }
    public string? Part { get; set; }
    public required string Shape { get; set; }
    public double? Invariance { get; set; }
    public double? Equivariance { get; set; }
    /// <summary>Standard error over probe images and the 95% interval (docs/measure.md, "Uncertainty"); null with the score.</summary>
    public double? InvarianceStderr { get; set; }
    public double? InvarianceLow { get; set; }
    public double? InvarianceHigh { get; set; }
    public double? EquivarianceStderr { get; set; }
    public double? EquivarianceLow { get; set; }
    public double? EquivarianceHigh { get; set; }
    public List<TransformScore> PerTransform { get; set; } = [];
}

public sealed class TransformScore : IStoredUncertainty
{
    public int Id { get; set; }
    public int LayerScoreId { get; set; }
    /// <summary>Reporting order within the family (rot90, rot180, … / shift1 … shiftK).</summary>
    public int Order { get; set; }
    public required string Key { get; set; }
    public double? Invariance { get; set; }
    public double? Equivariance { get; set; }
    /// <summary>Standard error over probe images and the 95% interval (docs/measure.md, "Uncertainty"); null with the score.</summary>
    public double? InvarianceStderr { get; set; }
    public double? InvarianceLow { get; set; }
    public double? InvarianceHigh { get; set; }
    public double? EquivarianceStderr { get; set; }
    public double? EquivarianceLow { get; set; }
    public double? EquivarianceHigh { get; set; }
}

public sealed class PartScoreRow : IStoredUncertainty
{
    public int Id { get; set; }
    public int RunId { get; set; }
    public required string Part { get; set; }
    public double? Invariance { get; set; }
    public double? Equivariance { get; set; }
    /// <summary>Standard error over probe images and the 95% interval (docs/measure.md, "Uncertainty"); null with the score.</summary>
    public double? InvarianceStderr { get; set; }
    public double? InvarianceLow { get; set; }
    public double? InvarianceHigh { get; set; }
    public double? EquivarianceStderr { get; set; }
    public double? EquivarianceLow { get; set; }
    public double? EquivarianceHigh { get; set; }
    public int Layers { get; set; }
}
