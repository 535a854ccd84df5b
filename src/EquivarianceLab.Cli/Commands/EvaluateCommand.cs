using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using EquivarianceLab.Cards;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Studies;
using EquivarianceLab.Training;

namespace EquivarianceLab.Cli.Commands;

/// <summary>
/// <c>eqlab evaluate</c>: re-measures the test accuracy a model card claims, on the data set the card names, and
/// compares. Without <c>--model</c>, every zoo model that has a weight file and an accuracy.
/// </summary>
public static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new Option<string[]>("--model")
        {
            Description = "A zoo id, a model folder with card.json, or a weight file with FILE.card.json beside it (repeatable; default: the whole zoo).",
            AllowMultipleArgumentsPerToken = false,
        };
        var tolerance = new Option<double>("--tolerance")
        {
            Description = "Largest accepted difference from the card, in percentage points.",
            DefaultValueFactory = _ => 0.1,
        };
        var zoo = new Option<string?>("--zoo") { Description = "The models folder (default: the repository's models/)." };
        var threads = MeasureOptionsBinder.ThreadsOption();
        var command = new Command("evaluate", "Re-measure the test accuracy on each model card and compare it with the card.")
        {
            model, tolerance, zoo, threads,
        };
        command.SetAction(r =>
        {
            MeasureOptionsBinder.ApplyThreads(r, threads);
            return Run(r.GetValue(model) ?? [], r.GetValue(tolerance), r.GetValue(zoo));
        });
        return command;
    }

    private static int Run(string[] models, double tolerance, string? zooFolder)
    {
        if (!(tolerance >= 0)) throw new EquivarianceLabException($"--tolerance must be zero or more (got {tolerance}).");
        var zoo = StudyCommand.OpenZoo(zooFolder);
        var targets = models.Length == 0
            ? zoo.Entries.Where(e => e.Card is { Accuracy: not null, AccuracyDataset.Length: > 0, AccuracyReportedBy: null } c && c.Format != ModelLoader.BuiltinFormat && e.Folder is not null)
                .Select(e => (Id: e.Id, Card: e.Card!, Folder: e.Folder!)).ToList()
            : models.Select(m => Resolve(m, zoo)).ToList();
        if (targets.Count == 0) throw new EquivarianceLabException($"No model with an accuracy on its card in {zoo.Folder ?? "the zoo"}.");

        var idWidth = Math.Max(5, targets.Max(t => t.Id.Length));
        var datasetWidth = Math.Max(7, targets.Max(t => t.Card.AccuracyDataset!.Length));
        Console.Out.WriteLine($"{"model".PadRight(idWidth)}  {"dataset".PadRight(datasetWidth)}  {"card %",7}  {"now %",7}  {"diff",6}  {"time",6}");
        var off = 0;
        foreach (var (id, card, folder) in targets)
        {
            Console.Error.WriteLine($"evaluating {id} on {card.AccuracyDataset} …");
            var watch = Stopwatch.StartNew();
            var measured = CardAccuracy.Measure(card, folder);
            var diff = measured - card.Accuracy!.Value;
            var ok = Math.Abs(diff) <= tolerance + 1e-9;
            if (!ok) off++;
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{id.PadRight(idWidth)}  {card.AccuracyDataset!.PadRight(datasetWidth)}  {card.Accuracy,7:F2}  {measured,7:F2}  {diff,6:+0.00;-0.00;0.00}  {watch.Elapsed.TotalSeconds,5:F0}s{(ok ? "" : "  differs")}"));
        }
        if (off > 0) Console.Error.WriteLine($"eqlab: {off} of {targets.Count} model(s) differ from their card by more than {tolerance} points.");
        return off > 0 ? CliErrors.InternalError : 0;
    }

    private static (string Id, ModelCard Card, string Folder) Resolve(string model, Zoo zoo)
    {
        // An id of the --zoo folder first; then what eqlab measure accepts: a folder with card.json, a repository zoo
        // id, or a weight file with its card beside it.
        if (zoo.Entries.FirstOrDefault(e => e.Id == model) is { Card: { } zooCard, Folder: { } zooFolder })
            return Checked(model, zooCard, zooFolder);
        ModelCard? card = null;
        var file = ModelLoader.Resolve(model, ref card);
        card ??= File.Exists(file) ? ModelCard.FindFor(file) : null;
        if (card is null)
            throw new EquivarianceLabException($"--model {model}: not a zoo id, a folder with card.json, or a weight file with {Path.GetFileName(model)}.card.json beside it.");
        return Checked(card.Id, card with { File = Path.GetFileName(file) }, Path.GetDirectoryName(Path.GetFullPath(file))!);
    }

    private static (string, ModelCard, string) Checked(string id, ModelCard card, string folder)
    {
        if (card.Accuracy is null || string.IsNullOrWhiteSpace(card.AccuracyDataset))
            throw new EquivarianceLabException($"{id}: its card records no accuracy and accuracyDataset to compare with.");
        if (card.Format == ModelLoader.BuiltinFormat) throw new EquivarianceLabException($"{id}: a built-in control has no trained weights to evaluate.");
        if (card.AccuracyReportedBy is { } reporter)
            throw new EquivarianceLabException($"{id}: its accuracy is the publisher's figure ({reporter}); this repository has no test set or classifier to re-measure it.");
        return (id, card, folder);
    }
}
