using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Cli.Commands;

/// <summary>
/// <c>eqlab bench</c>: (a) the measurement's time divided by its floor — the forward passes it needs (1 + |G| per
/// image) plus one batched similarity product per layer and transform of the same shapes, each timed alone in the
/// same run; (b) peak resident memory of a measurement of N and of 4N images.
/// </summary>
public static class BenchCommand
{
    public static Command Create()
    {
        var common = new MeasureOptionsBinder();
        var json = new Option<string?>("--out") { Description = "Write the figures as JSON here." };
        var skipMemory = new Option<bool>("--no-memory") { Description = "Skip the N vs 4N peak-memory runs." };
        var command = new Command("bench", "Time a measurement against its floor (forward passes + similarity products) and check memory is flat in N.");
        common.AddTo(command);
        command.Options.Add(json);
        command.Options.Add(skipMemory);
        command.SetAction(r =>
        {
            MeasureOptionsBinder.CheckOutputPath(r.GetValue(json), "--out");
            var options = common.Options(r) with { Images = r.GetValue(common.Images) ?? 64 };
            var (model, probe) = common.Open(r);
            using var disposeModel = model;
            using var disposeProbe = probe;
            var report = Run(model, probe, options, !r.GetValue(skipMemory));
            Console.Out.Write(report.Format());
            if (r.GetValue(json) is { } path)
                File.WriteAllText(path, JsonSerializer.Serialize(report, MeasurementResult.JsonOptions));
            return 0;
        });
        return command;
    }

    public sealed record BenchReport(
        string Model, string Transform, int Images, int Batch,
        double MeasureSeconds, double ForwardFloorSeconds, double SimilarityFloorSeconds, double Ratio,
        long? PeakBytesAtN, long? PeakBytesAt4N, double? PeakGrowth)
    {
        public string Format() => string.Create(CultureInfo.InvariantCulture, $"""
            bench {Model} · {Transform} · {Images} images · batch {Batch}
            measurement          {MeasureSeconds,8:0.000} s
            floor: forwards      {ForwardFloorSeconds,8:0.000} s
            floor: similarities  {SimilarityFloorSeconds,8:0.000} s
            ratio (measure/floor) {Ratio,7:0.000}
            {(PeakBytesAtN is null ? "peak memory          skipped" : $"peak memory at N     {PeakBytesAtN / 1048576.0,8:0.0} MiB  ({Images} images)\npeak memory at 4N    {PeakBytesAt4N / 1048576.0,8:0.0} MiB  ({4 * Images} images)\npeak growth 4N vs N  {PeakGrowth * 100,7:+0.0;-0.0}%")}

            """);
    }

    public static BenchReport Run(IFeatureModel model, IProbeSet probe, MeasureOptions options, bool memory)
    {
        int images = Math.Min(probe.Count, options.Images ?? 64);
        options = options with { Images = images };
        // Warm up: first-call costs (JIT, allocator, ORT arenas) belong to neither side.
        EquivarianceMeasure.Run(model, probe, options with { Images = Math.Min(images, options.BatchSize) });

        var measured = EquivarianceMeasure.Run(model, probe, options);
        var (forward, similarity) = Floor(model, probe, options, measured);
        var ratio = measured.Timing.Seconds / (forward + similarity);

        long? atN = null, at4N = null;
        double? growth = null;
        if (memory && PeakMemory.Supported)
        {
            atN = PeakMemory.During(() => EquivarianceMeasure.Run(model, probe, options));
            int big = Math.Min(probe.Count, 4 * images);
            if (big < 4 * images)
                Console.Error.WriteLine($"bench: the probe set has only {probe.Count} images; the 4N run uses {big}.");
            at4N = PeakMemory.During(() => EquivarianceMeasure.Run(model, probe, options with { Images = big }));
            growth = (double)(at4N.Value - atN.Value) / atN.Value;
        }
        return new BenchReport(model.Name, measured.Transform, images, options.BatchSize,
            measured.Timing.Seconds, forward, similarity, ratio, atN, at4N, growth);
    }

    /// <summary>The floor, timed piece by piece: each forward pass alone, then one bmm per layer and transform per batch.</summary>
    private static (double Forward, double Similarity) Floor(IFeatureModel model, IProbeSet probe, MeasureOptions options, MeasurementResult measured)
    {
        var transforms = SpatialTransform.Family(options.Transform, options.MaxShift);
        int images = measured.Images;
        var clock = new Stopwatch();
        double forward = 0, similarity = 0;
        using var noGrad = no_grad();
        for (int start = 0; start < images; start += options.BatchSize)
        {
            int count = Math.Min(options.BatchSize, images - start);
            using var scope = NewDisposeScope();
            var x = probe.ReadBatch(start, count);
            var inputs = new List<Tensor> { x };
            inputs.AddRange(transforms.Select(g => g.ApplyToInput(x)));
            foreach (var input in inputs)
            {
                clock.Restart();
                using var inner = NewDisposeScope();
                model.Forward(input);
                forward += clock.Elapsed.TotalSeconds;
            }
            foreach (var layer in measured.Layers.Where(l => IsSpatial(l)))
            {
                var (c, len) = ChannelsAndLength(layer);
                using var inner = NewDisposeScope();
                var a = randn(count, c, len);
                var b = randn(count, len, c);
                for (int t = 0; t < transforms.Count; t++)
                {
                    clock.Restart();
                    using var product = bmm(a, b);
                    similarity += clock.Elapsed.TotalSeconds;
                }
            }
        }
        foreach (var layer in measured.Layers.Where(l => !IsSpatial(l)))
        {
            long c = layer.Shape[0];
            using var scope = NewDisposeScope();
            var a = randn(1, c, images);
            var b = randn(1, images, c);
            for (int t = 0; t < transforms.Count; t++)
            {
                clock.Restart();
                using var product = bmm(a, b);
                similarity += clock.Elapsed.TotalSeconds;
            }
        }
        return (forward, similarity);
    }

    private static bool IsSpatial(LayerResult layer) =>
        FeatureLayout.Of(layer.Name, [1, .. layer.Shape]).Kind == LayerKind.Spatial;

    private static (long Channels, long Length) ChannelsAndLength(LayerResult layer) => layer.Shape.Length switch
    {
        3 => (layer.Shape[0], layer.Shape[1] * layer.Shape[2]),
        _ => (layer.Shape[1], layer.Shape[0] - FeatureLayout.Of(layer.Name, [1, .. layer.Shape]).PrefixTokens), // tokens [T, D]
    };
}

/// <summary>Peak resident set size of this process over an action (Linux: VmHWM, reset through /proc/self/clear_refs).</summary>
public static class PeakMemory
{
    public static bool Supported => File.Exists("/proc/self/clear_refs") && File.Exists("/proc/self/status");

    public static long During(Action action)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        File.WriteAllText("/proc/self/clear_refs", "5"); // resets VmHWM to the current RSS
        action();
        return ReadKiB("VmHWM") * 1024;
    }

    private static long ReadKiB(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line.Split(':', 2)[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        throw new InvalidOperationException($"/proc/self/status has no {field}.");
    }
}
