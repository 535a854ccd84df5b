using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Text.Json;
using EquivarianceLab.Compute;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using EquivarianceLab.Probes;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Cli.Commands;

/// <summary>
/// <c>eqlab bench</c>: (a) the measurement's time divided by the time of its forward passes alone — the same batches,
/// the same transformed inputs (1 + |G| per image) and the same layer read-out, with no similarity — both timed in
/// this run, each the best of <c>--repeat</c> alternating runs after a full-size warm-up of each; then, for comparison,
/// the measurement with the batched product instead of the fused kernel; (b) peak resident memory of a measurement of
/// N and of 4N images.
/// </summary>
public static class BenchCommand
{
    /// <summary>
    /// Images timed when <c>--images</c> is not given: a sample, not measure's whole probe set. 128, the case the
    /// speed goals are stated for (the 64×64 ResNet-18, 128 images; the README's commands): a run has costs that do not
    /// shrink with N (the results' per-channel arrays, the vector layers' bookkeeping), which at 64 images were one to
    /// two hundredths of the ratio more than at 128 (docs/performance.md).
    /// </summary>
    public const int DefaultImages = 128;

    public static Command Create()
    {
        var common = new MeasureOptionsBinder();
        var json = new Option<string?>("--out") { Description = "Write the figures as JSON here." };
        var skipMemory = new Option<bool>("--no-memory") { Description = "Skip the N vs 4N peak-memory runs." };
        var repeat = new Option<int>("--repeat") { Description = "Alternating runs of each timing; the best counts.", DefaultValueFactory = _ => 5 };
        var command = new Command("bench", "Time a measurement against its forward passes alone, and check memory is flat in N.");
        common.AddTo(command);
        // bench times a sample, not the whole probe set: its default differs from measure's.
        common.Images.Description = $"Number of probe images (default: {DefaultImages}; the memory check also runs 4× as many).";
        command.Options.Add(json);
        command.Options.Add(skipMemory);
        command.Options.Add(repeat);
        command.SetAction(r =>
        {
            MeasureOptionsBinder.CheckOutputPath(r.GetValue(json), "--out");
            if (r.GetValue(repeat) < 1) throw new EquivarianceLabException($"--repeat must be at least 1 (got {r.GetValue(repeat)}).");
            var options = common.Options(r); // Run applies bench's default for --images, capped by the probe set
            var (model, probe) = common.Open(r);
            using var disposeModel = model;
            using var disposeProbe = probe;
            var report = Run(model, probe, options, r.GetValue(skipMemory) ? null : MeasureArguments(), r.GetValue(repeat));
            Console.Out.Write(report.Format());
            if (r.GetValue(json) is { } path)
                File.WriteAllText(path, JsonSerializer.Serialize(report, MeasurementResult.JsonOptions));
            return 0;
        });
        return command;
    }

    public sealed record BenchReport(
        string Model, string Transform, int Images, int Batch, int Layers, int Threads, bool Matching,
        double MeasureSeconds, double MeasureForwardSeconds, double ForwardOnlySeconds, double Ratio,
        double? BatchedProductSeconds, double? BatchedProductRatio, double JitSeconds,
        long? PeakBytesAtN, long? PeakBytesAt4N, double? PeakGrowth)
    {
        public string Format() => string.Create(CultureInfo.InvariantCulture, $"""
            bench {Model} · {Transform} · {Images} images · batch {Batch} · {Layers} layers · {Threads} {(Threads == 1 ? "thread" : "threads")}{(Matching ? "" : " · no matching")}
            measurement               {MeasureSeconds,8:0.000} s
              its forward passes      {MeasureForwardSeconds,8:0.000} s
            forward passes only       {ForwardOnlySeconds,8:0.000} s
            ratio (measure/forward)   {Ratio,8:0.000}
            JIT during the two        {JitSeconds,8:0.000} s  (compiling, on any thread, while they ran)
            {(BatchedProductSeconds is null ? "" : $"with the batched product  {BatchedProductSeconds,8:0.000} s  (ratio {BatchedProductRatio:0.000})\n")}{(PeakBytesAtN is null ? "peak memory               skipped" : $"peak memory at N          {PeakBytesAtN / 1048576.0,8:0.0} MiB  ({Images} images)\npeak memory at 4N         {PeakBytesAt4N / 1048576.0,8:0.0} MiB  ({4 * Images} images)\npeak growth 4N vs N       {PeakGrowth * 100,7:+0.0;-0.0}%")}

            """);
    }

    /// <param name="measureArguments">When given, <c>eqlab measure</c>'s arguments for the same measurement (without
    /// <c>--images</c>): peak memory is measured on fresh processes of N and 4N images.</param>
    public static BenchReport Run(IFeatureModel model, IProbeSet probe, MeasureOptions options, IReadOnlyList<string>? measureArguments, int repeat = 5)
    {
        int images = Math.Min(probe.Count, options.Images ?? DefaultImages);
        options = options with { Images = images };
        // Warm up: first-call costs (JIT, allocator, ORT arenas) belong to neither side. .NET compiles a method again,
        // optimised, on a background thread once it has run ~30 times, so each timed path runs once at full size here
        // and the timings wait for that compiling to stop (docs/performance.md: one batch of warm-up left several
        // times more of it inside the timed runs). What still compiles during them is reported.
        ForwardPasses(model, probe, options);
        EquivarianceMeasure.Run(model, probe, options);
        JitSettling.Wait();

        double measure = double.MaxValue, measureForward = 0, forward = double.MaxValue;
        int layers = 0;
        var jitBefore = JitInfo.GetCompilationTime();
        for (int r = 0; r < repeat; r++)
        {
            forward = Math.Min(forward, ForwardPasses(model, probe, options));
            var measured = EquivarianceMeasure.Run(model, probe, options);
            if (measured.Timing.Seconds < measure) (measure, measureForward) = (measured.Timing.Seconds, measured.Timing.ForwardSeconds);
            layers = measured.Layers.Count;
        }
        double jit = (JitInfo.GetCompilationTime() - jitBefore).TotalSeconds;

        // The batched product for comparison, after the ratio's runs: its own warm-up and compiling stay out of them.
        bool kernel = SimilarityKernel.Active;
        double batched = double.MaxValue;
        if (kernel)
        {
            WithBatchedProduct(() => EquivarianceMeasure.Run(model, probe, options).Timing.Seconds);
            JitSettling.Wait();
            for (int r = 0; r < repeat; r++)
                batched = Math.Min(batched, WithBatchedProduct(() => EquivarianceMeasure.Run(model, probe, options).Timing.Seconds));
        }

        long? atN = null, at4N = null;
        double? growth = null;
        if (measureArguments is not null && PeakMemory.Supported)
        {
            // Each in a process of its own: in this one, what the timing runs left in the allocators would set the peak.
            int big = Math.Min(probe.Count, 4 * images);
            if (big < 4 * images)
                Console.Error.WriteLine($"bench: the probe set has only {probe.Count} images; the 4N run uses {big}.");
            atN = PeakMemory.OfMeasurement(measureArguments, images);
            at4N = PeakMemory.OfMeasurement(measureArguments, big);
            growth = (double)(at4N.Value - atN.Value) / atN.Value;
        }
        return new BenchReport(model.Name, MeasureNames.Name(options.Transform), images, options.BatchSize, layers, ComputeThreads.Count, options.Matching,
            measure, measureForward, forward, measure / forward,
            kernel ? batched : null, kernel ? batched / forward : null, jit,
            atN, at4N, growth);
    }

    /// <summary>
    /// This command line as <c>eqlab measure</c> arguments: <c>bench</c> becomes <c>measure</c>, and the options that
    /// only bench has (and <c>--images</c>, which the memory runs set) are left out.
    /// </summary>
    private static List<string> MeasureArguments()
    {
        var args = Environment.GetCommandLineArgs().Skip(1).ToList();
        int at = args.IndexOf("bench");
        var result = new List<string> { "measure" };
        for (int i = at + 1; i < args.Count; i++)
        {
            var name = args[i].Split('=', 2)[0];
            bool inline = args[i].Contains('=');
            if (name is "--no-memory") continue;
            if (name is "--out" or "--repeat" or "--images")
            {
                if (!inline) i++;
                continue;
            }
            result.Add(args[i]);
        }
        return result;
    }

    private static double WithBatchedProduct(Func<double> run)
    {
        SimilarityKernel.Enabled = false;
        try { return run(); }
        finally { SimilarityKernel.Enabled = true; }
    }

    /// <summary>
    /// The measurement's work without the measure: each batch read, f(X) and every f(gX) computed and
    /// their layers read out into layer tensors kept across batches as the measurement keeps them, timed as a whole.
    /// </summary>
    private static double ForwardPasses(IFeatureModel model, IProbeSet probe, MeasureOptions options)
    {
        var transforms = SpatialTransform.Family(options);
        int images = options.Images!.Value;
        var clock = Stopwatch.StartNew();
        using var noGrad = no_grad();
        using var plainBuffers = new FeatureBuffers();
        using var movedBuffers = new FeatureBuffers();
        var heap = new HeapTrimmer();
        for (int start = 0; start < images; start += options.BatchSize)
        {
            int count = Math.Min(options.BatchSize, images - start);
            using var scope = NewDisposeScope();
            var x = probe.ReadBatch(start, count);
            if (model.Device != ComputeDevice.Cpu) x = x.to(model.Device.ToTorch());
            model.Forward(x, plainBuffers);
            foreach (var g in transforms)
            {
                using var inner = NewDisposeScope();
                model.Forward(g.ApplyToInput(x), movedBuffers);
            }
            heap.AfterBatch();
        }
        return clock.Elapsed.TotalSeconds;
    }
}

/// <summary>Peak resident set size (Linux: VmHWM), of this process or of a measurement run in a process of its own.</summary>
public static class PeakMemory
{
    public static bool Supported => File.Exists("/proc/self/status");

    /// <summary>This process's peak resident set so far (VmHWM), in bytes.</summary>
    public static long SoFar() => ReadKiB("VmHWM") * 1024;

    /// <summary>The line <c>eqlab measure</c> ends with on stderr carries its peak; this is how it is written and read.</summary>
    public static string Describe(long bytes) => string.Create(CultureInfo.InvariantCulture, $"peak memory {bytes / 1048576.0:0.0} MiB");

    /// <summary>Runs <c>eqlab measure</c> on <paramref name="images"/> images in a fresh process and returns its peak resident set.</summary>
    public static long OfMeasurement(IReadOnlyList<string> measureArguments, int images)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        // Started through the dotnet host (dotnet eqlab.dll), the child needs the assembly; the apphost needs nothing.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") info.ArgumentList.Add(typeof(PeakMemory).Assembly.Location);
        foreach (var argument in measureArguments) info.ArgumentList.Add(argument);
        info.ArgumentList.Add("--images");
        info.ArgumentList.Add(images.ToString(CultureInfo.InvariantCulture));
        using var process = Process.Start(info) ?? throw new EquivarianceLabException("bench: eqlab measure could not be started for the memory runs.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        _ = stdout.Result;
        var match = System.Text.RegularExpressions.Regex.Match(stderr, @"peak memory ([0-9.]+) MiB");
        if (process.ExitCode != 0 || !match.Success)
            throw new EquivarianceLabException($"bench: the memory run of {images} images failed: {Messages.FirstLine(stderr)}");
        return (long)(double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) * 1048576);
    }

    private static long ReadKiB(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return long.Parse(line.Split(':', 2)[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        throw new InvalidOperationException($"/proc/self/status has no {field}.");
    }
}
