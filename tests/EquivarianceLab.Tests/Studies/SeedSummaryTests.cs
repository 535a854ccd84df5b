using System.Globalization;
using System.Text.Json;
using EquivarianceLab.Statistics;
using EquivarianceLab.Studies;
using static EquivarianceLab.Tests.Studies.SyntheticResults;

namespace EquivarianceLab.Tests.Studies;

/// <summary>A setting's seeds folded into one row: mean ± sample sd worked out by hand, the summary files and the table.</summary>
public class SeedSummaryTests
{
    private static StudyEntry Seed(StudyEntry entry, string setting, int seed) =>
        entry with { Setting = setting, Seed = seed, Label = setting.ToUpperInvariant() };

    // Setting a, three seeds (given out of order), rotation:
    //  Early inv    0.1 0.2 0.4 → mean 0.7/3; deviations −0.4/3, −0.1/3, 0.5/3: Σ² = 0.42/9, /(3 − 1) → sd = √(0.21/9) = √(7/3)/10.
    //  Early eqv    0.5 0.5 0.5 → mean 0.5, sd 0.
    //  Middle inv   0.2 0.4 and a seed without the part → n = 2, mean 0.3, sd = √((0.1² + 0.1²)/1) = √0.02.
    //  Middle eqv   null 0.6 → n = 1: mean 0.6, no sd.
    //  Late         no seed has it → no row.
    //  Final        only seed 2 → n = 1.
    //  accuracy     90 91 95 → mean 92; deviations −2 −1 3: Σ² = 14, /2 → sd = √7.
    // Setting b, one seed. Setting a's translation run is a row of its own.
    private static readonly StudyEntry[] Entries =
    [
        Seed(Entry("a-seed2", 95, "rotation", ("Early", 0.4, 0.5), ("Final", 0.9, 0.95)), "a", 2),
        Seed(Entry("a", 90, "rotation", ("Early", 0.1, 0.5), ("Middle", 0.2, null)), "a", 0),
        Seed(Entry("b", 80, "rotation", ("Early", 0.3, 0.7)), "b", 0),
        Seed(Entry("a-seed1", 91, "rotation", ("Early", 0.2, 0.5), ("Middle", 0.4, 0.6)), "a", 1),
        Seed(Entry("a", 90, "translation", ("Early", 0.8, 0.8)), "a", 0),
    ];

    [Fact]
    public void Mean_and_sample_sd_of_three_values_match_the_hand_worked_ones()
    {
        var spread = SampleSpread.Of([0.1, 0.2, 0.4]);
        Assert.Equal(3, spread.N);
        Assert.Equal(0.7 / 3, spread.Mean!.Value, 12);
        Assert.Equal(Math.Sqrt(7.0 / 3) / 10, spread.Sd!.Value, 12);
        Assert.Equal(new SampleSpread(92, Math.Sqrt(7), 3), SampleSpread.Of([90, 91, 95]));
        // Nulls and NaNs are not values; one value has no sd, none has no mean.
        Assert.Equal(new SampleSpread(0.6, null, 1), SampleSpread.Of([null, 0.6, double.NaN]));
        Assert.Equal(new SampleSpread(null, null, 0), SampleSpread.Of([]));
        // Replicas that agree to the last bit: their value and an sd of exactly 0, not a rounding residue.
        Assert.Equal(new SampleSpread(0.3, 0, 3), SampleSpread.Of([0.3, 0.3, 0.3]));
    }

    [Fact]
    public void A_settings_seeds_are_one_row_per_family_with_mean_and_sd_per_part()
    {
        var summary = StudySummary.Compute(Entries);
        Assert.Equal([("a", "rotation"), ("b", "rotation"), ("a", "translation")], summary.Select(s => (s.Setting, s.Key.Transform)));

        var a = summary[0];
        Assert.Equal(("A", 3), (a.Label, a.N));
        Assert.Equal([0, 1, 2], a.Seeds);
        Assert.Equal(["a", "a-seed1", "a-seed2"], a.Models);
        Assert.Equal(92, a.Accuracy.Mean!.Value, 12);
        Assert.Equal(Math.Sqrt(7), a.Accuracy.Sd!.Value, 12);
        Assert.Equal(["Early", "Middle", "Final"], a.Parts.Keys);

        var early = a.Parts["Early"];
        Assert.Equal(0.7 / 3, early.Invariance.Mean!.Value, 12);
        Assert.Equal(Math.Sqrt(7.0 / 3) / 10, early.Invariance.Sd!.Value, 12);
        Assert.Equal(3, early.Invariance.N);
        Assert.Equal((0.5, 0.0), (early.Equivariance.Mean!.Value, early.Equivariance.Sd!.Value));

        // A part one seed lacks, and a score one seed has no value for: over the seeds that have it.
        var middle = a.Parts["Middle"];
        Assert.Equal(0.3, middle.Invariance.Mean!.Value, 12);
        Assert.Equal(Math.Sqrt(0.02), middle.Invariance.Sd!.Value, 12);
        Assert.Equal(2, middle.Invariance.N);
        Assert.Equal(new SampleSpread(0.6, null, 1), middle.Equivariance);
        Assert.Equal(new SampleSpread(0.9, null, 1), a.Parts["Final"].Invariance);
    }

    [Fact]
    public void One_seed_has_a_mean_and_a_null_sd_and_files_from_before_seeds_are_one_setting_per_model()
    {
        var b = StudySummary.Compute(Entries).Single(s => s.Setting == "b");
        Assert.Equal(1, b.N);
        Assert.Equal(new SampleSpread(0.3, null, 1), b.Parts["Early"].Invariance);
        Assert.Equal(new SampleSpread(80, null, 1), b.Accuracy);

        // Entries without a setting (NAME.json written before seeds): every model its own row, as before.
        var old = StudySummary.Compute(Entries.Select(e => e with { Setting = null, Seed = null }).ToList());
        Assert.Equal(5, old.Count);
        Assert.All(old, s => Assert.Equal(1, s.N));
        Assert.Equal(["a-seed2", "a", "b", "a-seed1", "a"], old.Select(s => s.Setting));
    }

    [Fact]
    public void The_summary_csv_has_the_documented_header_and_its_cells_read_back_to_the_computed_values()
    {
        var summary = StudySummary.Compute(Entries);
        var lines = StudyOutput.SummaryCsv(summary).TrimEnd('\n').Split('\n');
        Assert.Equal("setting,label,n,seeds,accuracyDataset,transform,maxShift,similarity,images,probe,part," +
            "invarianceMean,invarianceSd,invarianceN,equivarianceMean,equivarianceSd,equivarianceN,accuracyMean,accuracySd,models", lines[0]);
        Assert.Equal(StudyOutput.SummaryCsvHeader, lines[0]);
        var header = lines[0].Split(',');
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        Assert.All(rows, r => Assert.Equal(header.Length, r.Length));
        // a: Early, Middle, Final; b: Early; a's translation: Early. Late, which no seed has, has no row.
        Assert.Equal(3 + 1 + 1, rows.Count);
        Assert.DoesNotContain(rows, r => r[Array.IndexOf(header, "part")] == "Late");

        string Cell(string[] row, string column) => row[Array.IndexOf(header, column)];
        double Number(string[] row, string column) => double.Parse(Cell(row, column), CultureInfo.InvariantCulture);
        var early = rows[0];
        Assert.Equal(["a", "A", "3", "0 1 2", "fmnist/test", "rotation", "", "pearson", "10", "t10k-images-idx3-ubyte.gz", "Early"], early.Take(11));
        var a = summary[0];
        // "R" formatting: every number reads back to the same double.
        Assert.Equal(a.Parts["Early"].Invariance.Mean, Number(early, "invarianceMean"));
        Assert.Equal(a.Parts["Early"].Invariance.Sd, Number(early, "invarianceSd"));
        Assert.Equal(a.Accuracy.Sd, Number(early, "accuracySd"));
        Assert.Equal(("3", "0", "92"), (Cell(early, "invarianceN"), Cell(early, "equivarianceSd"), Cell(early, "accuracyMean")));
        Assert.Equal("a a-seed1 a-seed2", Cell(early, "models"));

        var middle = rows[1];
        Assert.Equal(("2", "0.6", "", "1"), (Cell(middle, "invarianceN"), Cell(middle, "equivarianceMean"), Cell(middle, "equivarianceSd"), Cell(middle, "equivarianceN")));
        var b = rows[3];
        Assert.Equal(("b", "1", "0", "", ""), (Cell(b, "setting"), Cell(b, "n"), Cell(b, "seeds"), Cell(b, "invarianceSd"), Cell(b, "accuracySd")));
        Assert.Equal(("translation", "4"), (Cell(rows[4], "transform"), Cell(rows[4], "maxShift")));
    }

    [Fact]
    public void The_summary_json_has_mean_sd_and_n_per_part_and_for_the_accuracy()
    {
        using var doc = JsonDocument.Parse(StudyOutput.SummaryJson(StudySummary.Compute(Entries)));
        var a = doc.RootElement[0];
        Assert.Equal(["setting", "label", "n", "seeds", "models", "accuracyDataset", "transform", "maxShift", "similarity", "images", "probe", "accuracy", "parts"],
            a.EnumerateObject().Select(p => p.Name));
        Assert.Equal(3, a.GetProperty("n").GetInt32());
        Assert.Equal([0, 1, 2], a.GetProperty("seeds").EnumerateArray().Select(s => s.GetInt32()));
        Assert.Equal(Math.Sqrt(7), a.GetProperty("accuracy").GetProperty("sd").GetDouble(), 12);
        var middleEqv = a.GetProperty("parts").GetProperty("Middle").GetProperty("equivariance");
        Assert.Equal(0.6, middleEqv.GetProperty("mean").GetDouble());
        Assert.Equal(JsonValueKind.Null, middleEqv.GetProperty("sd").ValueKind);
        Assert.Equal(1, middleEqv.GetProperty("n").GetInt32());
        Assert.False(a.GetProperty("parts").TryGetProperty("Late", out _));
    }

    [Fact]
    public void The_table_shows_mean_and_sd_across_seeds_and_the_number_of_seeds()
    {
        var table = StudyOutput.Table(StudyCatalog.Get("task-symmetry"), Entries); // rotation only
        var lines = table.TrimEnd('\n').Split('\n');
        Assert.Equal(5, lines.Length); // title, part names, headings, settings a and b
        Assert.EndsWith("· mean ± sd across seeds", lines[0]);
        // Early inv 0.233 ± 0.153, eqv 0.500 ± 0.000; Middle 0.300 ± 0.141 / 0.600 ± —; Late and Pool blank; Final of one seed.
        const int blankPart = 3 + 14 + 1 + 14;
        Assert.Equal("a        A          3   92.00 ± 2.65     0.233 ± 0.153  0.500 ± 0.000    0.300 ± 0.141  0.600 ± —" +
            new string(' ', 4 + 2 * blankPart + 3 + 1) + "0.900 ± —      0.950 ± —", lines[3]);
        Assert.Equal("b        B          1   80.00 ± —        0.300 ± —      0.700 ± —", lines[4]);
        Assert.Equal(lines[3].IndexOf("0.233", StringComparison.Ordinal), lines[4].IndexOf("0.300", StringComparison.Ordinal));
    }

    [Fact]
    public void The_markdown_table_shows_mean_and_sd_to_two_decimals_and_a_dash_where_there_is_no_value()
    {
        var study = StudyCatalog.Get("architecture"); // translation and rotation: two captioned tables
        var markdown = StudyOutput.MarkdownTable(study, StudySummary.Compute(Entries));
        const string header = "| setting | label | seeds | acc % | Early inv / eqv | Middle inv / eqv | Late inv / eqv | Pool inv / eqv | Final inv / eqv |\n|---|---|---|---|---|---|---|---|---|\n";
        // Setting a by hand (above): accuracy 92 ± √7 = 2.65; Early 0.7/3 = 0.23 ± √(7/3)/10 = 0.15 and 0.50 ± 0.00;
        // Middle 0.30 ± √0.02 = 0.14 and 0.60 (one seed, no sd); Late and Pool absent; Final of one seed.
        Assert.Equal(
            "*translation*\n\n" + header +
            "| `a` | A | 1 | 90.00 | 0.80 / 0.80 | — | — | — | — |\n" +
            "\n*rotation*\n\n" + header +
            "| `a` | A | 3 | 92.00 ± 2.65 | 0.23 ± 0.15 / 0.50 ± 0.00 | 0.30 ± 0.14 / 0.60 | — | — | 0.90 / 0.95 |\n" +
            "| `b` | B | 1 | 80.00 | 0.30 / 0.70 | — | — | — | — |\n",
            markdown);
        // A score just below zero is 0.00, as the README writes it.
        var nearZero = Seed(Entry("z", 90, "rotation", ("Early", -0.001, 0.004)), "z", 0);
        Assert.Contains("| 0.00 / 0.00 |", StudyOutput.MarkdownTable(StudyCatalog.Get("task-symmetry"), StudySummary.Compute([nearZero])));
        // A study with one family has no caption.
        Assert.StartsWith(header, StudyOutput.MarkdownTable(StudyCatalog.Get("task-symmetry"), StudySummary.Compute(Entries)));
    }

    [Fact]
    public void The_markdown_table_cannot_be_broken_by_a_model_id_or_a_label()
    {
        // A zoo folder may be named anything; a card-derived label too. Neither may end a cell, start a link or inline HTML.
        var entry = Seed(Entry("x", null, "rotation", ("Early", 0.5, 0.5)), "x", 0) with { Setting = "a|b`<img src=x>", Label = "k | [link](http://e) <b>\nnext" };
        var markdown = StudyOutput.MarkdownTable(StudyCatalog.Get("task-symmetry"), StudySummary.Compute([entry]));
        var row = markdown.TrimEnd('\n').Split('\n')[^1];
        Assert.Equal(@"| a\|b\`\<img src=x\> | k \| \[link\]\(http://e\) \<b\> next | 1 | — | 0.50 / 0.50 | — | — | — | — |", row);
        // Ten unescaped pipes: the nine cells of a row, no more.
        Assert.Equal(10, row.Replace(@"\|", "", StringComparison.Ordinal).Count(c => c == '|'));
    }

    // Four settings of three seeds each. Setting k's accuracies are 60 + 5k − 1, 60 + 5k, 60 + 5k + 1 (means 65, 70, 75,
    // 80); its Early invariances its mean −0.01, +0, +0.01, with means 0.1, 0.3, 0.2, 0.4: over the means, ranks 1 3 2 4
    // against 1 2 3 4, ρ = 0.8 with the exact p = 1/3 (AccuracyCorrelationTests). A control without an accuracy is left out.
    private static readonly double[] EarlyMeans = [0.1, 0.3, 0.2, 0.4];

    private static List<StudyEntry> FourSettings()
    {
        var entries = new List<StudyEntry>();
        for (var k = 1; k <= 4; k++)
            for (var seed = 0; seed < 3; seed++)
            {
                var id = seed == 0 ? $"s{k}" : $"s{k}-seed{seed}";
                var early = EarlyMeans[k - 1] + 0.01 * (seed - 1);
                entries.Add(Seed(Entry(id, 60 + 5 * k + (seed - 1), "rotation", ("Early", early, early)), $"s{k}", seed));
            }
        entries.Add(Entry("control", null, "rotation", ("Early", 1.0, 1.0)));
        return entries;
    }

    [Fact]
    public void The_correlation_over_models_counts_every_seed_and_the_one_over_means_every_setting()
    {
        var entries = FourSettings();
        var models = AccuracyCorrelation.Compute(entries).Single(r => r.Part == "Early" && r.Measure == AccuracyCorrelation.Invariance);
        Assert.Equal(12, models.N);
        Assert.Equal(12, models.Models.Count);
        Assert.Contains("s3-seed2", models.Models);
        Assert.DoesNotContain("control", models.Models);
        var points = entries.Where(e => e.Accuracy is not null).ToList();
        var expected = Spearman.Compute(points.Select(e => e.Result.Parts["Early"].Invariance!.Value).ToList(), points.Select(e => e.Accuracy!.Value).ToList());
        Assert.Equal(expected.Rho!.Value, models.Rho!.Value, 12);
        Assert.False(models.Exact); // n = 12 > 10: the t approximation

        var means = AccuracyCorrelation.ComputeOverSettingMeans(entries);
        var early = means.Single(r => r.Part == "Early" && r.Measure == AccuracyCorrelation.Invariance);
        Assert.Equal(4, early.N);
        Assert.Equal(["s1", "s2", "s3", "s4"], early.Models);
        Assert.Equal(0.8, early.Rho!.Value, 12);
        Assert.Equal(1.0 / 3, early.P!.Value, 12);
        Assert.True(early.Exact);
        Assert.Equal(models.Group, early.Group);
        Assert.Equal(StudyOutput.CorrelationCsvHeader, StudyOutput.CorrelationCsv(means).Split('\n')[0]);

        var table = StudyOutput.CorrelationTable(means, overSettingMeans: true);
        Assert.Contains("Spearman's ρ, each setting's mean part score vs its mean card accuracy across its seeds · rotation", table);
        Assert.Contains("accuracy on fmnist/test (4 settings: s1, s2, s3, s4)", table);
        Assert.Contains("resamples of the settings", table);
        Assert.Contains("(12: s1, s1-seed1, s1-seed2, s2,", StudyOutput.CorrelationTable(AccuracyCorrelation.Compute(entries)));
    }

    [Fact]
    public void With_one_seed_per_setting_both_correlations_agree()
    {
        var entries = FourSettings().Where(e => e.Seed is null or 0).ToList();
        var models = AccuracyCorrelation.Compute(entries);
        var means = AccuracyCorrelation.ComputeOverSettingMeans(entries);
        Assert.Equal(models.Select(r => (r.Group, r.Part, r.Measure, r.Rho, r.N, r.P, r.Low, r.High)), means.Select(r => (r.Group, r.Part, r.Measure, r.Rho, r.N, r.P, r.Low, r.High)));
        Assert.Equal(StudyOutput.CorrelationCsv(models), StudyOutput.CorrelationCsv(means));
    }
}
