using System.CommandLine;
using System.Globalization;
using EquivarianceLab.Compute;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;

namespace EquivarianceLab.Cli.Commands;

/// <summary><c>eqlab measure</c>: one model, one probe set, one transform family; the part table on stdout.</summary>
public static class MeasureCommand
{
    public static Command Create()
    {
        var common = new MeasureOptionsBinder();
        var json = new Option<string?>("--out") { Description = "Write result.json here." };
        var csv = new Option<string?>("--csv") { Description = "Write the per-layer, per-transform CSV here." };
        var matchingCsv = new Option<string?>("--matching-csv") { Description = "Write the channel matching (per layer, transform and channel) as CSV here." };
        var listLayers = new Option<bool>("--list-layers") { Description = "List the model's measurable layers (name, shape, op, default selection and part) and exit." };
        var perLayer = new Option<bool>("--per-layer") { Description = "Also print the per-layer table." };
        var command = new Command("measure", "Measure layer-wise invariance and equivariance of a model on a probe set.");
        common.AddTo(command);
        command.Options.Add(json);
        command.Options.Add(csv);
        command.Options.Add(matchingCsv);
        command.Options.Add(listLayers);
        command.Options.Add(perLayer);
        command.SetAction(r =>
        {
            var options = common.Options(r);
            MeasureOptionsBinder.CheckOutputPath(r.GetValue(json), "--out");
            MeasureOptionsBinder.CheckOutputPath(r.GetValue(csv), "--csv");
            MeasureOptionsBinder.CheckOutputPath(r.GetValue(matchingCsv), "--matching-csv");
            if (!options.Matching && r.GetValue(matchingCsv) is not null)
                throw new EquivarianceLabException("--matching-csv needs the matching: leave out --no-matching.");
            if (r.GetValue(listLayers))
            {
                using var listed = common.OpenModel(r);
                Console.Out.Write(LayerListing.Format(listed.Name, LayerListing.Of(listed)));
                return 0;
            }
            var (model, probe) = common.Open(r);
            using var disposeModel = model;
            using var disposeProbe = probe;
            using var cancel = CancelOnCtrlC();
            var result = EquivarianceMeasure.Run(model, probe, options, ConsoleProgress.OnStandardError().ForMeasure("measure"), cancel.Token);
            if (r.GetValue(json) is { } jsonPath) File.WriteAllText(jsonPath, result.ToJson());
            if (r.GetValue(csv) is { } csvPath) File.WriteAllText(csvPath, ResultCsv.Write(result));
            if (r.GetValue(matchingCsv) is { } matchingPath) File.WriteAllText(matchingPath, MatchingCsv.Write(result));
            Console.Out.Write(PartTable.Format(result));
            if (r.GetValue(perLayer)) Console.Out.Write(PartTable.FormatLayers(result));
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"measured {result.Layers.Count} layers on {result.Images} images in {result.Timing.Seconds:0.00} s ({result.Timing.ForwardSeconds:0.00} s in forward passes; {options.Device.Name()}, {ComputeThreads.Count} {(ComputeThreads.Count == 1 ? "thread" : "threads")}){(PeakMemory.Supported ? "; " + PeakMemory.Describe(PeakMemory.SoFar()) : "")}"));
            return 0;
        });
        return command;
    }

    public static CancellationTokenSource CancelOnCtrlC()
    {
        var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };
        return cts;
    }
}
