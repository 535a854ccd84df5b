using System.CommandLine;
using System.Globalization;
using EquivarianceLab.Measure;
using EquivarianceLab.Studies;

namespace EquivarianceLab.Cli.Commands;

/// <summary>
/// <c>eqlab study NAME</c>: one of the paper's §4 studies over the zoo (docs/studies.md). Writes <c>DIR/NAME.json</c> and
/// <c>DIR/NAME.csv</c> per model, <c>DIR/NAME-summary.json/.csv</c> per setting (mean ± sd across seeds), and for
/// <c>accuracy</c> the correlations (<c>DIR/accuracy-spearman.json/.csv</c> over every model,
/// <c>DIR/accuracy-spearman-means.json/.csv</c> over the settings' means); prints the paper-style table on stdout and
/// progress on stderr.
/// </summary>
public static class StudyCommand
{
    /// <summary>Without --out a study writes to a new folder here, so it never overwrites the committed <c>studies/</c>.</summary>
    public const string DefaultOutParent = "study-results";

    public static Command Create()
    {
        var name = new Argument<string>("NAME") { Description = $"The study: {string.Join(", ", StudyCatalog.Names)}." };
        var images = new Option<int?>("--images")
        {
            Description = $"Probe images per model (default {StudyRunOptions.DefaultImages}; the paper uses 2000).",
            CustomParser = result =>
            {
                var token = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
                if (int.TryParse(token, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)) return n;
                result.AddError($"--images must be a whole number, not '{token}'.");
                return null;
            },
        };
        var output = new Option<string?>("--out") { Description = $"Folder for the study's files, NAME.json, NAME.csv, NAME-summary.json/.csv, … (created if missing; default: a new folder {DefaultOutParent}/NAME-<time>)." };
        var batch = new Option<int>("--batch") { Description = "Images per forward pass.", DefaultValueFactory = _ => 32 };
        var zoo = new Option<string?>("--zoo") { Description = "The models folder to take the study's models from (default: the repository's models/)." };
        var threads = MeasureOptionsBinder.ThreadsOption();
        var command = new Command("study", "Run one of the paper's studies over the model zoo: " + string.Join("; ", StudyCatalog.All.Select(s => $"{s.Name} ({s.Section})")) + ".")
        {
            name, images, output, batch, zoo, threads,
        };
        command.SetAction(r =>
        {
            MeasureOptionsBinder.ApplyThreads(r, threads);
            return Run(r.GetValue(name)!, r.GetValue(images) ?? StudyRunOptions.DefaultImages, r.GetValue(output) ?? NewFolder(r.GetValue(name)!),
                r.GetValue(batch), r.GetValue(zoo));
        });
        return command;
    }

    /// <summary><c>study-results/NAME-yyyyMMdd-HHmmss</c>, with a suffix if that exists already.</summary>
    private static string NewFolder(string study)
    {
        var stem = Path.Combine(DefaultOutParent, $"{study.Trim().ToLowerInvariant()}-{DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}");
        var folder = stem;
        for (var i = 2; Directory.Exists(folder); i++) folder = $"{stem}-{i}";
        return folder;
    }

    private static int Run(string name, int images, string outDir, int batch, string? zooFolder)
    {
        var study = StudyCatalog.Get(name);
        if (images < 1) throw new EquivarianceLabException($"--images must be at least 1 (got {images}).");
        if (batch < 1) throw new EquivarianceLabException($"--batch must be at least 1 (got {batch}).");
        var zoo = OpenZoo(zooFolder);
        foreach (var problem in zoo.Problems) Console.Error.WriteLine($"eqlab: skipping a zoo card: {problem}");
        var resolved = StudyCatalog.Resolve(study, zoo);
        var missing = resolved.DescribeMissing().ToList();
        if (resolved.Members.Count == 0)
            throw new EquivarianceLabException(
                $"None of the models of study '{study.Name}' is in the zoo ({zoo.Folder ?? "no models/ folder found"}). Missing:\n" +
                string.Join("\n", missing.Select(m => "  " + m)));
        if (missing.Count > 0)
        {
            Console.Error.WriteLine($"study {study.Name}: {missing.Count} model(s) not in the zoo yet; measuring the {resolved.Members.Count} that are. Missing:");
            foreach (var m in missing) Console.Error.WriteLine("  " + m);
        }

        try
        {
            Directory.CreateDirectory(outDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new EquivarianceLabException($"--out {outDir}: cannot create the folder ({e.Message}).", e);
        }
        var files = new StudyFiles(outDir, study);

        using var cancel = MeasureCommand.CancelOnCtrlC();
        var observer = new Observer(files);
        var run = StudyRunner.Run(resolved, new StudyRunOptions { Images = images, BatchSize = batch }, observer, cancel.Token);
        var summary = files.WriteEntries(run.Entries);
        var written = new List<string>(files.EntryFiles);

        Console.Out.Write(StudyOutput.Table(study, summary));
        if (study.CorrelateAccuracy)
        {
            var rows = AccuracyCorrelation.Compute(run.Entries);
            var means = AccuracyCorrelation.ComputeOverSettingMeans(run.Entries);
            written.AddRange(files.WriteCorrelations(rows, means));
            Console.Out.WriteLine();
            Console.Out.Write(StudyOutput.CorrelationTable(rows));
            // With one seed per setting the means' ρ is the models' ρ: printed only when some setting has replicas.
            if (summary.Any(s => s.N > 1))
            {
                Console.Out.WriteLine();
                Console.Out.Write(StudyOutput.CorrelationTable(means, overSettingMeans: true));
            }
        }
        if (missing.Count > 0)
        {
            Console.Out.WriteLine();
            Console.Out.WriteLine($"Not in the zoo ({missing.Count}):");
            foreach (var m in missing) Console.Out.WriteLine("  " + m);
        }
        if (run.Failures.Count > 0)
        {
            Console.Out.WriteLine();
            Console.Out.WriteLine($"Failed ({run.Failures.Count}):");
            foreach (var f in run.Failures) Console.Out.WriteLine($"  {f.ModelId}{(f.Transform is null ? "" : " · " + f.Transform)}: {f.Message}");
        }
        Console.Error.WriteLine($"wrote {string.Join(", ", written)}");
        return run.Failures.Count > 0 ? CliErrors.InternalError : 0;
    }

    /// <summary>The zoo of a <c>--zoo</c> option: the repository's <c>models/</c> when none is given.</summary>
    internal static Zoo OpenZoo(string? folder)
    {
        if (folder is not null && !Directory.Exists(folder)) throw new EquivarianceLabException($"--zoo {folder}: no such folder.");
        return folder is null ? Zoo.Load() : Zoo.Scan(Path.GetFullPath(folder));
    }

    /// <summary>Progress on stderr; the files rewritten after each measurement, so an interrupted study keeps what it measured.</summary>
    private sealed class Observer(StudyFiles files) : IStudyObserver
    {
        private readonly List<StudyEntry> _done = [];

        public IProgress<MeasureProgress>? Starting(StudyStep step)
        {
            var label = string.Create(CultureInfo.InvariantCulture, $"[{step.Index + 1}/{step.Count}] {step.Member.Entry.Id} · {step.Measurement.TransformName}");
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{label} ({step.Member.Slot.Label}) on {Path.GetFileName(step.Probe)}"));
            return ConsoleProgress.OnStandardError().ForMeasure(label);
        }

        public void Finished(StudyStep step, StudyEntry entry)
        {
            _done.Add(entry);
            files.WriteEntries(_done);
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{entry.ModelId} · {entry.Result.Transform}: {entry.Result.Layers.Count} layers in {entry.Result.Timing.Seconds:0.0} s"));
        }

        public void Failed(StudyStep step, Exception error) =>
            Console.Error.WriteLine($"eqlab: {step.Member.Entry.Id} · {step.Measurement.TransformName}: {Messages.FirstLine(error.Message)} (skipped)");
    }
}
