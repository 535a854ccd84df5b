using EquivarianceLab.Measure;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Uploads;
using SkiaSharp;

namespace EquivarianceLab.Web.Runs;

/// <summary>One layer and transform's matching summary (docs/measure.md, "Channel matching").</summary>
public sealed record MatchingSummaryDto(string Layer, int Index, string Transform, int Channels, int Decisions, int MatchedChannels,
    double? OwnIndexShare, double? DistinctShare);

/// <summary>One layer and transform's per-channel matching: which c′ each channel c became, how often, how similar.</summary>
public sealed record ChannelMatchingDto(string Layer, int Index, string Transform, ChannelMatching Matching);

/// <summary>Pure functions from a stored result's channel matching to what the API and the run page show.</summary>
public static class ChannelMatchingViews
{
    /// <summary>Every layer and transform that kept its matching, in layer order and the result's transform order.</summary>
    public static List<MatchingSummaryDto> Summaries(MeasurementResult result) =>
        [.. result.Layers.Where(l => l.Matching is not null).SelectMany(l => l.Matching!.Select(kv =>
            new MatchingSummaryDto(l.Name, l.Index, kv.Key, kv.Value.Channels, kv.Value.Decisions, kv.Value.MatchedChannels,
                kv.Value.OwnIndexShare, kv.Value.DistinctShare)))];

    public static bool HasMatching(MeasurementResult result) => result.Layers.Any(l => l.Matching is not null);

    /// <summary>A 404 that says why, for a result measured without matching or before it existed.</summary>
    public static void RequireMatching(MeasurementResult result, int runId)
    {
        if (!HasMatching(result))
            throw RequestException.NotFound($"Run {runId} did not keep its channel matching (it was measured without it, or before it existed); re-run it to get one.");
    }

    /// <summary>The matching of <paramref name="layer"/> under <paramref name="transform"/>, or a 400/404 saying what is wrong.</summary>
    public static (LayerResult Layer, ChannelMatching Matching) Find(MeasurementResult result, int runId, string? layer, string? transform)
    {
        RequireMatching(result, runId);
        if (string.IsNullOrEmpty(layer)) throw RequestException.Invalid("layer", "layer is required: one of the run's layer names (GET /api/runs/{id}/matching lists them).");
        var found = result.Layers.FirstOrDefault(l => l.Name == layer)
            ?? throw RequestException.Invalid("layer", $"Run {runId} measured no layer '{UploadNames.CleanName(layer)}'.");
        if (found.Matching is null) throw RequestException.Invalid("layer", $"Layer '{UploadNames.CleanName(layer)}' of run {runId} has no channel matching.");
        if (string.IsNullOrEmpty(transform)) throw RequestException.Invalid("transform", $"transform is required: one of {string.Join(", ", found.Matching.Keys)}.");
        return found.Matching.TryGetValue(transform, out var matching)
            ? (found, matching)
            : throw RequestException.Invalid("transform", $"Run {runId} has no transform '{UploadNames.CleanName(transform)}'; it has {string.Join(", ", found.Matching.Keys)}.");
    }

    /// <summary>
    /// The c → c′ heat map as a PNG of C′ × C pixels (row c, column c′): the share of c's decisions that chose c′, from
    /// white (never) to dark blue (always), for the partners the result kept; the diagonal c′ = c is marked light grey
    /// where no decision chose it, so a permutation reads against it. The page scales it up without smoothing.
    /// </summary>
    public static byte[] HeatmapPng(ChannelMatching matching)
    {
        int channels = Math.Max(1, matching.Channels);
        using var bitmap = new SKBitmap(channels, channels, SKColorType.Rgba8888, SKAlphaType.Opaque);
        bitmap.Erase(SKColors.White);
        for (int c = 0; c < matching.Channels; c++) bitmap.SetPixel(c, c, Diagonal);
        var decisions = Math.Max(1, matching.Decisions);
        for (int c = 0; c < matching.Channels; c++)
        {
            var partners = matching.Partners[c];
            for (int k = 0; k < partners.Length; k++)
                if (partners[k] >= 0 && partners[k] < channels)
                    bitmap.SetPixel(partners[k], c, Shade((double)matching.PartnerCounts[c][k] / decisions));
        }
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    public static readonly SKColor Diagonal = new(0xDD, 0xDD, 0xDD);

    /// <summary>White to #08306B (the dark end of a sequential blue scale), linear in the share; any share above 0 is visibly tinted.</summary>
    public static SKColor Shade(double share)
    {
        var t = Math.Clamp(0.15 + 0.85 * share, 0, 1);
        static byte Mix(byte to, double t) => (byte)Math.Round(255 + (to - 255) * t);
        return new SKColor(Mix(0x08, t), Mix(0x30, t), Mix(0x6B, t));
    }
}
