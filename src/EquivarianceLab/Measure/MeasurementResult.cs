using System.Text.Json;
using System.Text.Json.Serialization;

namespace EquivarianceLab.Measure;

/// <summary>
/// How far a score can be trusted over the probe images (docs/measure.md, "Uncertainty"): each score's standard error
/// and 95% interval; null where the score is null, the run had fewer than 2 images, or the result predates them.
/// </summary>
public abstract record Uncertainty
{
    // In JSON after the scores they belong to (the derived records' own properties come first).
    [JsonPropertyOrder(1)] public double? InvarianceStderr { get; init; }
    [JsonPropertyOrder(1)] public Interval? InvarianceInterval { get; init; }
    [JsonPropertyOrder(1)] public double? EquivarianceStderr { get; init; }
    [JsonPropertyOrder(1)] public Interval? EquivarianceInterval { get; init; }
}

/// <summary>One invariance/equivariance pair; null where no non-degenerate pair existed.</summary>
public sealed record Score(double? Invariance, double? Equivariance) : Uncertainty;

/// <summary>A part's score: the mean over its layers (docs/measure.md, "Parts").</summary>
public sealed record PartScore(double? Invariance, double? Equivariance, int Layers) : Uncertainty;

public sealed record LayerResult : Uncertainty
{
    public required string Name { get; init; }
    public required int Index { get; init; }
    /// <summary>Early, Middle, Late, Pool, Final or null.</summary>
    public string? Part { get; init; }
    /// <summary>The layer tensor's shape without the batch dimension, as the model produced it.</summary>
    public required long[] Shape { get; init; }
    public double? Invariance { get; init; }
    public double? Equivariance { get; init; }
    /// <summary>Keyed by transform: rot90|rot180|rot270, shift1…shiftK, flip; rot{angle}, shift{s} (continuous families).</summary>
    [JsonPropertyOrder(2)] public required Dictionary<string, Score> PerTransform { get; init; }
    /// <summary>
    /// Keyed like <see cref="PerTransform"/>: which channel each channel became (docs/measure.md, "Channel matching");
    /// null when the measurement did not keep it (and in results written before it existed).
    /// </summary>
    [JsonPropertyOrder(3)] public Dictionary<string, ChannelMatching>? Matching { get; init; }
}

public sealed record Timing(double Seconds, double ForwardSeconds);

/// <summary>The result of one measurement: the <c>result.json</c> of the command line and the API.</summary>
public sealed record MeasurementResult
{
    public required string Model { get; init; }
    public required string Probe { get; init; }
    public required string Transform { get; init; }
    public required string Similarity { get; init; }
    public required int Images { get; init; }
    public required int MaxShift { get; init; }
    /// <summary>rotation-continuous: the angles measured (degrees). Absent for every other family, so their JSON reads as before.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double[]? Angles { get; init; }
    /// <summary>translation-continuous: the shifts measured (input pixels). Absent for every other family.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public double[]? Shifts { get; init; }
    public required List<LayerResult> Layers { get; init; }
    public required Dictionary<string, PartScore> Parts { get; init; }
    public required Timing Timing { get; init; }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static MeasurementResult FromJson(string json) =>
        JsonSerializer.Deserialize<MeasurementResult>(json, JsonOptions)
        ?? throw new InvalidDataException("Empty measurement result.");
}
