using System.Text.Json;
using System.Text.Json.Serialization;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;
using EquivarianceLab.Web.Jobs;

namespace EquivarianceLab.Web.Workers;

/// <summary>What a worker is asked to do: one of the kinds of work that open untrusted files.</summary>
public enum WorkerTask { InspectModel, InspectProbeSet, Measure, FeatureMaps }

/// <summary>The one request a worker reads from its standard input (JSON), then it does the work and exits.</summary>
public sealed record WorkerRequest
{
    public required WorkerTask Task { get; init; }
    public string? ModelPath { get; init; }
    /// <summary>The model's card, as the app stores it (<see cref="Data.CardJson"/>).</summary>
    public string? CardJson { get; init; }
    public string? ProbePath { get; init; }
    public int Samples { get; init; }
    public MeasureOptions? Options { get; init; }
    /// <summary>The layers to measure, in forward order; null for the model's default selection.</summary>
    public IReadOnlyList<string>? Layers { get; init; }
    /// <summary>The layer holding the logits when not the model's own.</summary>
    public string? Logits { get; init; }
    /// <summary>For <see cref="WorkerTask.FeatureMaps"/>: which image, layer, channel and transform.</summary>
    public FeatureMapRequest? FeatureMap { get; init; }
    public required ProbeLimits Limits { get; init; }
}

/// <summary>
/// One line of a worker's standard output: progress while it measures, then exactly one result or error. Nothing
/// else is written there (the worker sends the library's console output to standard error).
/// </summary>
public sealed record WorkerMessage
{
    public MeasureProgress? Progress { get; init; }
    public ModelInspection? Model { get; init; }
    public ProbeInspection? ProbeSet { get; init; }
    /// <summary>The measurement, as <see cref="MeasurementResult.ToJson"/> wrote it (the app stores that text).</summary>
    public string? Result { get; init; }
    /// <summary>The feature maps of a <see cref="WorkerTask.FeatureMaps"/> request, as numbers (the app draws them).</summary>
    public FeatureMapPair? FeatureMaps { get; init; }
    /// <summary>What went wrong, in words for users (the library's message).</summary>
    public string? Error { get; init; }
    /// <summary>The failure was an allocation refused under the memory limit.</summary>
    public bool OutOfMemory { get; init; }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Layer scores are NaN-free, but a probe sample may hold any float: keep them exact either way.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter() },
    };
}
