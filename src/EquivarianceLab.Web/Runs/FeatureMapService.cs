using System.Security.Cryptography;
using System.Text.Json;
using EquivarianceLab.Cards;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Results;
using EquivarianceLab.Web.Security;
using EquivarianceLab.Web.Storage;
using EquivarianceLab.Web.Uploads;

namespace EquivarianceLab.Web.Runs;

/// <summary>
/// The feature-map viewer's numbers (docs/dashboard.md, "Feature maps"): for a finished run, one probe image, one
/// spatial layer, channel and transform, f(gX)_c beside g·f(X)_c′ as two PNGs. A request is checked against the run's
/// result here (cheaply, before any worker starts), computed by a worker process with the run's own model, probe set and
/// settings, drawn in this process, and kept in the store under a key made from the run and the request, so the same
/// request is answered from there on any node. Identical requests arriving together compute once.
/// </summary>
public sealed class FeatureMapService(RunService runs, IMeasurementRunner runner, StoredFiles files, SafeText safeText, ILogger<FeatureMapService> logger)
{
    /// <summary>The name the kept JSON has in a node's cache.</summary>
    public const string CacheName = "feature-maps.json";

    /// <summary>Workers computing feature maps at once on this node; more requests wait their turn.</summary>
    public const int MaxWorkers = 2;

    private readonly ContentLocks _locks = new();
    private readonly SemaphoreSlim _workers = new(MaxWorkers, MaxWorkers);

    /// <summary>The feature maps of <paramref name="request"/> for run <paramref name="runId"/>; a wrong request is a <see cref="RequestException"/> naming the field.</summary>
    public async Task<FeatureMapView> GetAsync(int runId, FeatureMapRequest request, CancellationToken ct = default)
    {
        var run = await runs.FindAsync(runId, ct) ?? throw RequestException.NotFound($"No run {runId}.");
        if (run.Status != RunStatus.Done || run.ResultJson is null || run.Model is null || run.ProbeSet is null)
            throw RequestException.Conflict($"Run {runId} is {RunDto.StatusName(run.Status)}: feature maps are shown for finished runs only.");
        Check(runId, MeasurementResult.FromJson(run.ResultJson), request);
        var key = CacheKey(run, request);
        return await _locks.RunAsync(key, async () =>
        {
            if (await files.ReadDerivedAsync(key, CacheName, ct) is { } kept && Read(kept) is { } cached) return cached;
            var view = await ComputeAsync(run, request, ct);
            await files.KeepDerivedAsync(key, JsonSerializer.SerializeToUtf8Bytes(view, ApiJson.Options), CacheName, ct);
            return view;
        }, ct);
    }

    /// <summary>The run's spatial layers (the ones with feature maps), in forward order, with their grids.</summary>
    public static IReadOnlyList<(LayerResult Layer, FeatureGrid Grid)> SpatialLayers(MeasurementResult result)
    {
        var spatial = new List<(LayerResult, FeatureGrid)>();
        foreach (var layer in result.Layers)
        {
            try { spatial.Add((layer, FeatureMaps.GridOf(layer.Name, layer.Shape))); }
            catch (EquivarianceLabException) { /* a vector layer */ }
        }
        return spatial;
    }

    /// <summary>
    /// Refuses, naming the field, what the run's result already rules out: an image beyond those it measured, a layer it
    /// did not measure or a vector layer, a channel beyond the layer's, a transform key not among its own.
    /// </summary>
    public static void Check(int runId, MeasurementResult result, FeatureMapRequest request)
    {
        var spatial = SpatialLayers(result);
        var names = string.Join(", ", spatial.Select(s => s.Layer.Name));
        if (string.IsNullOrEmpty(request.Layer))
            throw RequestException.Invalid("layer", $"layer is required: one of the spatial layers of run {runId} ({names}).");
        var layer = result.Layers.FirstOrDefault(l => l.Name == request.Layer)
                    ?? throw RequestException.Invalid("layer", $"Run {runId} measured no layer '{UploadNames.ShownId(request.Layer)}'; its spatial layers are {names}.");
        FeatureGrid grid;
        try { grid = FeatureMaps.GridOf(layer.Name, layer.Shape); }
        catch (EquivarianceLabException e) { throw RequestException.Invalid("layer", $"{e.Message} Those of run {runId} are {names}."); }

        var keys = ResultStore.OrderedTransforms(layer.PerTransform).Select(kv => kv.Key).ToList();
        if (string.IsNullOrEmpty(request.Transform))
            throw RequestException.Invalid("transform", $"transform is required: one of {string.Join(", ", keys)}.");
        if (!keys.Contains(request.Transform))
            throw RequestException.Invalid("transform", $"Unknown transform '{UploadNames.ShownId(request.Transform)}' for run {runId}: use {string.Join(", ", keys)}.");
        if (request.Image < 0 || request.Image >= result.Images)
            throw RequestException.Invalid("image", $"image must be between 0 and {result.Images - 1}: run {runId} measured {result.Images} images (got {request.Image}).");
        CheckChannel("channel", request.Channel, layer.Name, grid);
        if (request.Partner is { } partner) CheckChannel("partner", partner, layer.Name, grid);
    }

    private static void CheckChannel(string field, int channel, string layer, FeatureGrid grid)
    {
        if (channel < 0 || channel >= grid.Channels)
            throw RequestException.Invalid(field, $"{field} must be between 0 and {grid.Channels - 1}: layer '{layer}' has {grid.Channels} channels (got {channel}).");
    }

    /// <summary>
    /// The SHA-256 of everything the maps depend on: the run, the model file it measured and its model's card, its probe set's file, its
    /// settings, and the request. Ids of deleted runs may come back, so the files and settings are in it as well.
    /// </summary>
    public static string CacheKey(Run run, FeatureMapRequest request)
    {
        object?[] inputs =
        [
            "equivariancelab feature maps v1", run.Id, run.MeasuredModelHash ?? run.Model!.FileName, run.Model!.CardJson,
            run.ProbeSet!.ContentHash, run.Transform, run.Similarity, run.MaxShift, run.TransformValues,
            request.Image, request.Layer, request.Channel, request.Transform, request.Partner,
        ];
        return Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(inputs)));
    }

    private async Task<FeatureMapView> ComputeAsync(Run run, FeatureMapRequest request, CancellationToken ct)
    {
        var (model, probe) = (run.Model!, run.ProbeSet!);
        string modelPath = model.FileName, probePath = probe.FileName;
        try
        {
            // The file the run measured, not the model's current one: a retrained checkpoint would draw other maps.
            modelPath = await files.MeasuredModelPathAsync(run, ct);
            probePath = await files.LocalPathAsync(probe, ct);
        }
        catch (StoredObjectMissingException)
        {
            throw RequestException.NotFound($"The model or probe set file of run {run.Id} is no longer in the store.");
        }
        var card = CardJson.Parse(model.CardJson);
        var options = RunRequest.ToOptions(run);
        await _workers.WaitAsync(ct);
        try
        {
            return FeatureMapImages.Draw(await Task.Run(() => runner.FeatureMaps(modelPath, card, probePath, options, request, ct), ct));
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning(e, "Feature maps of run {RunId} failed.", run.Id);
            throw RequestException.Unusable($"The feature maps of run {run.Id} could not be computed: " +
                safeText.Clean(LibraryErrors.Describe(e), (modelPath, $"'{model.Name}'"), (probePath, $"'{probe.Name}'")));
        }
        finally { _workers.Release(); }
    }

    /// <summary>A kept view, or null when it cannot be read (then it is computed again).</summary>
    private static FeatureMapView? Read(byte[] json)
    {
        try { return JsonSerializer.Deserialize<FeatureMapView>(json, ApiJson.Options); }
        catch (JsonException) { return null; }
    }
}
