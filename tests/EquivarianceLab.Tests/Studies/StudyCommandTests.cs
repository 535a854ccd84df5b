using EquivarianceLab.Measure;
using EquivarianceLab.Studies;
using EquivarianceLab.Tests.Cli;

namespace EquivarianceLab.Tests.Studies;

/// <summary><c>eqlab study</c> end to end, as a separate process.</summary>
public class StudyCommandTests
{
    [Fact]
    public void Without_out_each_run_writes_a_new_folder_and_leaves_existing_results_alone()
    {
        using var dir = new Training.TempDirectory();
        var committed = Directory.CreateDirectory(Path.Combine(dir.Path, "studies")).FullName;
        File.WriteAllText(Path.Combine(committed, "controls.json"), "committed");
        string[] args = ["study", "controls", "--images", "4", "--batch", "4"];
        var first = Eqlab.Run(dir.Path, args);
        var second = Eqlab.Run(dir.Path, args);
        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.True(second.ExitCode == 0, second.ToString());

        var folders = Directory.GetDirectories(Path.Combine(dir.Path, "study-results")).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(2, folders.Count);
        Assert.All(folders, f =>
        {
            Assert.StartsWith("controls-", Path.GetFileName(f));
            Assert.Equal(2, StudyOutput.ReadJson(File.ReadAllText(Path.Combine(f, "controls.json"))).Count);
        });
        Assert.Equal("committed", File.ReadAllText(Path.Combine(committed, "controls.json")));
    }

    [Fact]
    public void Controls_measure_what_they_were_built_to_have()
    {
        using var dir = new Training.TempDirectory();
        var run = Eqlab.Run(dir.Path, "study", "controls", "--images", "12", "--batch", "6", "--out", "out");
        Assert.True(run.ExitCode == 0, run.ToString());

        var entries = StudyOutput.ReadJson(File.ReadAllText(Path.Combine(dir.Path, "out", "controls.json")));
        Assert.Equal(["control-rotation-invariant", "control-rotation-equivariant"], entries.Select(e => e.ModelId));
        Assert.All(entries, e =>
        {
            Assert.Equal("rotation", e.Result.Transform);
            Assert.Equal(12, e.Result.Images);
            Assert.Equal("t10k-images-idx3-ubyte.gz", e.Result.Probe);
            Assert.Null(e.Accuracy);
            Assert.Equal(Parts.All, e.Result.Parts.Keys);
        });
        // Figure 3(a): invariance 1 everywhere.
        Assert.All(entries[0].Result.Parts, p => Assert.True(p.Value.Invariance > 1 - 1e-4, $"invariant control {p.Key}: {p.Value.Invariance}"));
        // Figure 3(b): equivariance 1 up to the pool, and well below-1 invariance in the spatial parts.
        var eq = entries[1].Result.Parts;
        foreach (var part in new[] { Parts.Early, Parts.Middle, Parts.Late, Parts.Pool })
            Assert.True(eq[part].Equivariance > 1 - 1e-4, $"equivariant control {part} equivariance {eq[part].Equivariance}");
        foreach (var part in new[] { Parts.Early, Parts.Middle, Parts.Late })
            Assert.True(eq[part].Invariance < 0.9, $"equivariant control {part} invariance {eq[part].Invariance}");

        var csv = File.ReadAllLines(Path.Combine(dir.Path, "out", "controls.csv"));
        Assert.Equal(StudyOutput.CsvHeader, csv[0]);
        Assert.Equal(1 + 2 * 5, csv.Length);

        var table = run.Stdout.Split('\n');
        Assert.StartsWith("controls (§4.1, Figure 3) · rotation", table[0]);
        // One seed each: the value and "—" for the sd.
        Assert.Contains(table, l => l.StartsWith("control-rotation-invariant ", StringComparison.Ordinal) && l.Contains("1.000 ± —      1.000 ± —", StringComparison.Ordinal));
        Assert.Contains(table, l => l.StartsWith("control-rotation-equivariant ", StringComparison.Ordinal));
        // Progress and the files written go to stderr, not into the table.
        Assert.Contains("[1/2] control-rotation-invariant · rotation", run.Stderr);
        Assert.Contains("controls.json", run.StderrLines[^1]);
        Assert.DoesNotContain("[1/2]", run.Stdout);
    }

    [Fact]
    public void A_study_without_any_of_its_models_names_them_and_fails()
    {
        using var zoo = new FakeZoo();
        using var dir = new Training.TempDirectory();
        var run = Eqlab.Run(dir.Path, "study", "task-symmetry", "--zoo", zoo.Folder, "--out", "out");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("None of the models of study 'task-symmetry' is in the zoo", run.Stderr);
        foreach (var id in new[] { "cnn7-fmnist6", "cnn7-fmnist6-rotinv", "cnn7-fmnist6-roteq" })
            Assert.Contains($"  {id} (", run.Stderr);
        Assert.Equal("", run.Stdout);
        Assert.False(File.Exists(Path.Combine(dir.Path, "out", "task-symmetry.json")));
    }

    [Fact]
    public void A_partial_study_measures_what_is_there_and_says_what_is_missing()
    {
        using var zoo = new FakeZoo();
        zoo.AddFashionMnist();
        zoo.Add("my-cnn7", "cnn7", "fmnist6", accuracy: 88.25, realWeights: true, classes: 6);
        using var dir = new Training.TempDirectory();
        var run = Eqlab.Run(dir.Path, "study", "task-symmetry", "--zoo", zoo.Folder, "--images", "4", "--out", "out");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("2 model(s) not in the zoo yet", run.Stderr);
        var lines = run.Stdout.Split('\n');
        Assert.Contains(lines, l => l.StartsWith("my-cnn7 ", StringComparison.Ordinal) && l.Contains("FMNIST-6", StringComparison.Ordinal) && l.Contains("88.25", StringComparison.Ordinal));
        Assert.Contains("Not in the zoo (2):", run.Stdout);
        Assert.Contains("  cnn7-fmnist6-rotinv (", run.Stdout);
        var entries = StudyOutput.ReadJson(File.ReadAllText(Path.Combine(dir.Path, "out", "task-symmetry.json")));
        var only = Assert.Single(entries);
        Assert.Equal(("my-cnn7", 88.25, "fmnist6/test"), (only.ModelId, only.Accuracy, only.AccuracyDataset));
        Assert.Equal(["Early", "Middle", "Late", "Pool", "Final"], only.Result.Parts.Keys);
    }

    [Fact]
    public void Two_seeds_of_a_setting_are_one_row_with_mean_and_sd_and_both_models_stay_in_the_per_model_files()
    {
        using var zoo = new FakeZoo();
        zoo.AddFashionMnist();
        zoo.Add("tiny", "cnn7", "fmnist6", accuracy: 88, realWeights: true, classes: 6);
        zoo.Add("tiny-seed1", "cnn7", "fmnist6", accuracy: 90, realWeights: true, classes: 6, seed: 1);
        using var dir = new Training.TempDirectory();
        var run = Eqlab.Run(dir.Path, "study", "task-symmetry", "--zoo", zoo.Folder, "--images", "4", "--out", "out");
        Assert.True(run.ExitCode == 0, run.ToString());

        var entries = StudyOutput.ReadJson(File.ReadAllText(Path.Combine(dir.Path, "out", "task-symmetry.json")));
        Assert.Equal([("tiny", "tiny", 0), ("tiny-seed1", "tiny", 1)], entries.Select(e => (e.ModelId, e.Setting!, e.Seed!.Value)));
        Assert.Equal(2 * 5 + 1, File.ReadAllLines(Path.Combine(dir.Path, "out", "task-symmetry.csv")).Length);

        var summary = File.ReadAllLines(Path.Combine(dir.Path, "out", "task-symmetry-summary.csv"));
        Assert.Equal(StudyOutput.SummaryCsvHeader, summary[0]);
        Assert.Equal(1 + 5, summary.Length); // one setting × five parts
        var header = summary[0].Split(',');
        string Cell(string row, string column) => row.Split(',')[Array.IndexOf(header, column)];
        Assert.All(summary.Skip(1), row => Assert.Equal(("tiny", "2", "0 1", "89", "tiny tiny-seed1"),
            (Cell(row, "setting"), Cell(row, "n"), Cell(row, "seeds"), Cell(row, "accuracyMean"), Cell(row, "models"))));
        var early = entries.Select(e => e.Result.Parts["Early"].Equivariance!.Value).ToList();
        var spread = EquivarianceLab.Statistics.SampleSpread.Of([early[0], early[1]]);
        Assert.Equal(spread.Mean, double.Parse(Cell(summary[1], "equivarianceMean"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(spread.Sd, double.Parse(Cell(summary[1], "equivarianceSd"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(File.Exists(Path.Combine(dir.Path, "out", "task-symmetry-summary.json")));
        // The Markdown table: one row for the setting, two seeds, accuracy 89 ± √2.
        var markdown = File.ReadAllText(Path.Combine(dir.Path, "out", "task-symmetry.md"));
        Assert.Equal(StudyOutput.MarkdownTable(StudyCatalog.Get("task-symmetry"), StudySummary.Compute(entries)), markdown);
        Assert.Contains("| `tiny` | FMNIST-6 | 2 | 89.00 ± 1.41 |", markdown);

        // stdout: one row for the setting, with its two seeds, the mean accuracy ± its sd (√2) and no row per model.
        var lines = run.Stdout.Split('\n');
        var row = Assert.Single(lines, l => l.StartsWith("tiny ", StringComparison.Ordinal));
        Assert.Contains("FMNIST-6      2   89.00 ± 1.41", row);
        Assert.DoesNotContain(lines, l => l.StartsWith("tiny-seed1", StringComparison.Ordinal));
        Assert.Contains("task-symmetry-summary.csv", run.StderrLines[^1]);
    }

    [Fact]
    public void The_accuracy_study_correlates_over_every_seed_and_over_the_settings_means()
    {
        // Three settings (the same slot, other epoch counts) of two seeds each, all on FMNIST-6.
        using var zoo = new FakeZoo();
        zoo.AddFashionMnist();
        foreach (var (setting, epochs, accuracy) in new[] { ("a", 1, 80.0), ("b", 2, 85.0), ("c", 3, 90.0) })
            for (var seed = 0; seed < 2; seed++)
                zoo.Add(seed == 0 ? setting : $"{setting}-seed{seed}", "cnn7", "fmnist6", accuracy: accuracy + seed, realWeights: true, classes: 6,
                    seed: seed, extra: $"--epochs {epochs}");
        using var dir = new Training.TempDirectory();
        var run = Eqlab.Run(dir.Path, "study", "accuracy", "--zoo", zoo.Folder, "--images", "4", "--out", "out");
        Assert.True(run.ExitCode == 0, run.ToString());

        List<string[]> Rows(string file) => [.. File.ReadAllLines(Path.Combine(dir.Path, "out", file)).Skip(1).Select(l => l.Split(','))];
        var header = StudyOutput.CorrelationCsvHeader.Split(',');
        string Cell(string[] row, string column) => row[Array.IndexOf(header, column)];
        var models = Rows("accuracy-spearman.csv");
        var means = Rows("accuracy-spearman-means.csv");
        Assert.Equal(2 * 5 * 2, models.Count); // two families × five parts × inv/eqv, one group
        Assert.Equal(models.Count, means.Count);
        // models is the last column (a reason before it may hold a quoted comma).
        Assert.All(models, r => Assert.Equal("a a-seed1 b b-seed1 c c-seed1", r[^1]));
        Assert.All(means, r => Assert.Equal("a b c", r[^1]));
        // n: the points with a score (every model has an Early one).
        Assert.All(models.Where(r => Cell(r, "part") == "Early"), r => Assert.Equal("6", Cell(r, "n")));
        Assert.All(means.Where(r => Cell(r, "part") == "Early"), r => Assert.Equal("3", Cell(r, "n")));
        Assert.Contains("Spearman's ρ, part score vs card accuracy, each model one point", run.Stdout);
        Assert.Contains("Spearman's ρ, each setting's mean part score vs its mean card accuracy across its seeds", run.Stdout);
        Assert.Contains("(3 settings: a, b, c)", run.Stdout);
    }

    [Fact]
    public void Bad_arguments_are_one_line_errors()
    {
        using var dir = new Training.TempDirectory();
        var unknown = Eqlab.Run(dir.Path, "study", "symmetry");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Equal($"eqlab: Unknown study 'symmetry'. Studies: {string.Join(", ", StudyCatalog.Names)}.", Assert.Single(unknown.StderrLines));
        var images = Eqlab.Run(dir.Path, "study", "controls", "--images", "0");
        Assert.Equal(2, images.ExitCode);
        Assert.Equal("eqlab: --images must be at least 1 (got 0).", Assert.Single(images.StderrLines));
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "studies")));
    }
}
