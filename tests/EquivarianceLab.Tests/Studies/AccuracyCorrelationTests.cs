using EquivarianceLab.Measure;
using EquivarianceLab.Statistics;
using EquivarianceLab.Studies;
using static EquivarianceLab.Tests.Studies.SyntheticResults;

namespace EquivarianceLab.Tests.Studies;

/// <summary>The §4.2 computation on hand-made results whose ρ and p are worked out by hand.</summary>
public class AccuracyCorrelationTests
{
    // Four models, accuracy ranks 1..4 in order a, b, c, d.
    //  Early inv  0.1 0.3 0.2 0.4 → ranks 1 3 2 4: Σd² = 2, ρ = 1 − 6·2/(4·15) = 0.8. Of the 24 orderings, |ρ| ≥ 0.8 for
    //             the identity, its 3 adjacent swaps, the reversal and its 3 adjacent swaps: p = 8/24 = 1/3.
    //  Early eqv  0.9 0.8 0.7 0.6 → reversed: ρ = −1, p = 2/24 = 1/12.
    //  Middle     0.5 for all → constant: no ρ.
    //  Late       only a and b have one → n = 2: no ρ.
    //  Pool inv   0.2 0.2 0.4 0.6 → ranks 1.5 1.5 3 4 (ties averaged): centred (−1, −1, .5, 1.5) · (−1.5, −.5, .5, 1.5) = 4.5,
    //             |x|² = 4.5, |y|² = 5: ρ = 4.5/√22.5 = 3/√10.
    //  Final      nobody has one.
    //  A control without an accuracy is left out everywhere.
    private static readonly StudyEntry[] Rotation =
    [
        Entry("a", 70, "rotation", ("Early", 0.1, 0.9), ("Middle", 0.5, 0.5), ("Late", 0.3, 0.3), ("Pool", 0.2, 0.2)),
        Entry("b", 80, "rotation", ("Early", 0.3, 0.8), ("Middle", 0.5, 0.5), ("Late", 0.1, 0.1), ("Pool", 0.2, 0.4)),
        Entry("c", 90, "rotation", ("Early", 0.2, 0.7), ("Middle", 0.5, 0.5), ("Pool", 0.4, 0.6)),
        Entry("d", 95, "rotation", ("Early", 0.4, 0.6), ("Middle", 0.5, 0.5), ("Pool", 0.6, 0.8)),
        Entry("control", null, "rotation", ("Early", 1.0, 1.0), ("Middle", 1.0, 1.0), ("Pool", 1.0, 1.0), ("Final", 1.0, 1.0)),
    ];

    private static AccuracyCorrelationRow Row(IEnumerable<AccuracyCorrelationRow> rows, string part, string measure, string transform = "rotation", string testSet = "fmnist/test") =>
        rows.Single(r => r.TestSet == testSet && r.Transform == transform && r.Part == part && r.Measure == measure);

    [Fact]
    public void Rho_and_exact_p_match_the_hand_worked_values()
    {
        var rows = AccuracyCorrelation.Compute(Rotation);
        Assert.Equal(5 * 2, rows.Count); // one group, one family, 5 parts × inv/eqv

        var early = Row(rows, "Early", "invariance");
        Assert.Equal(0.8, early.Rho!.Value, 12);
        Assert.Equal(1.0 / 3, early.P!.Value, 12);
        Assert.Equal(4, early.N);
        Assert.True(early.Exact);
        Assert.Equal(["a", "b", "c", "d"], early.Models);
        Assert.Equal("rotation~shift16~pearson~10img~t10k-images-idx3-ubyte.gz~fmnist/test", early.Group);
        Assert.InRange(0.8, early.Low!.Value, early.High!.Value);
        Assert.Equal(SpearmanBootstrap.DefaultResamples, early.Resamples);

        var earlyEqv = Row(rows, "Early", "equivariance");
        Assert.Equal(-1.0, earlyEqv.Rho!.Value, 12);
        Assert.Equal(1.0 / 12, earlyEqv.P!.Value, 12);
        // Perfectly reversed, no ties: every resample with a ρ has ρ = −1.
        Assert.Equal((-1.0, -1.0), (earlyEqv.Low, earlyEqv.High));

        var pool = Row(rows, "Pool", "invariance");
        Assert.Equal(3 / Math.Sqrt(10), pool.Rho!.Value, 12);
        Assert.Equal(1.0, Row(rows, "Pool", "equivariance").Rho!.Value, 12);
    }

    [Fact]
    public void Undefined_rho_comes_with_its_reason()
    {
        var rows = AccuracyCorrelation.Compute(Rotation);
        var middle = Row(rows, "Middle", "invariance");
        Assert.Null(middle.Rho);
        Assert.Null(middle.P);
        Assert.Equal(4, middle.N);
        Assert.Contains("Middle invariance is the same (0.5) for all 4 pairs", middle.Reason);

        var late = Row(rows, "Late", "equivariance");
        Assert.Null(late.Rho);
        Assert.Equal(2, late.N);
        Assert.Contains("at least 3 pairs", late.Reason);

        var final = Row(rows, "Final", "invariance");
        Assert.Null(final.Rho);
        Assert.Equal(0, final.N);
        Assert.Equal("No model of the group has a Final part.", final.Reason);

        var table = StudyOutput.CorrelationTable(rows);
        Assert.Contains("no ρ for Middle invariance: Middle invariance is the same (0.5) for all 4 pairs", table);
        Assert.Contains("no ρ for Final: No model of the group has a Final part.", table);
        Assert.Contains("exact", table);
    }

    [Fact]
    public void Families_and_test_sets_are_correlated_separately_and_never_pooled()
    {
        StudyEntry[] entries =
        [
            .. Rotation,
            // Translation: a second family over the same models, perfectly ranked.
            Entry("a", 70, "translation", ("Early", 0.1, 0.2)),
            Entry("b", 80, "translation", ("Early", 0.2, 0.3)),
            Entry("c", 90, "translation", ("Early", 0.3, 0.4)),
            Entry("d", 95, "translation", ("Early", 0.4, 0.5)),
            // A model of another task: its own group of one (pooled, accuracy 99 with Early 0.0 would give ρ = 0).
            Entry("e", 99, "fmnist6/test", "translation", ("Early", 0.0, 0.0)),
        ];
        var rows = AccuracyCorrelation.Compute(entries);
        Assert.Equal(3, rows.Select(r => r.Group).Distinct().Count());
        Assert.Equal(["rotation", "translation"], rows.Where(r => r.TestSet == "fmnist/test").Select(r => r.Transform).Distinct());

        var task = Row(rows, "Early", "invariance", "translation");
        Assert.Equal(1.0, task.Rho!.Value, 12);
        Assert.Equal(1.0 / 12, task.P!.Value, 12);
        Assert.Equal(["a", "b", "c", "d"], task.Models);
        Assert.Equal(4, task.MaxShift);

        var alone = Row(rows, "Early", "invariance", "translation", "fmnist6/test");
        Assert.Null(alone.Rho);
        Assert.Equal(1, alone.N);
        Assert.Equal(["e"], alone.Models);
        Assert.Contains("No Spearman's ρ · translation (diagonal shifts 1–4) · pearson · 10 images of t10k-images-idx3-ubyte.gz · accuracy on fmnist6/test (1: e): it needs at least 3 models.",
            StudyOutput.CorrelationTable(rows));
    }

    [Fact]
    public void Runs_that_differ_in_images_probe_or_shift_are_separate_groups()
    {
        static StudyEntry With(StudyEntry e, Func<MeasurementResult, MeasurementResult> change) => e with { Result = change(e.Result) };
        var groups = AccuracyCorrelation.Compute(
        [
            .. Rotation,
            .. Rotation.Select(e => With(e, r => r with { Images = 20 })),
            .. Rotation.Select(e => With(e, r => r with { Probe = "other.npy" })),
            .. Rotation.Select(e => With(e, r => r with { MaxShift = 8 })),
            .. Rotation.Select(e => With(e, r => r with { Similarity = "cosine" })),
        ]).GroupBy(r => r.Group).ToList();
        Assert.Equal(5, groups.Count);
        Assert.All(groups, g => Assert.Equal(["a", "b", "c", "d"], g.First().Models));
        Assert.All(groups, g => Assert.Equal(0.8, g.Single(r => r.Part == "Early" && r.Measure == "invariance").Rho!.Value, 12));
    }

    [Fact]
    public void Correlation_files_have_one_row_per_group_family_part_and_measure()
    {
        var rows = AccuracyCorrelation.Compute(Rotation);
        var csv = StudyOutput.CorrelationCsv(rows).TrimEnd('\n').Split('\n');
        Assert.Equal(StudyOutput.CorrelationCsvHeader, csv[0]);
        Assert.Equal(rows.Count, csv.Length - 1);
        Assert.StartsWith("rotation~shift16~pearson~10img~t10k-images-idx3-ubyte.gz~fmnist/test,fmnist/test,t10k-images-idx3-ubyte.gz,rotation,16,pearson,10,Early,invariance,0.8", csv[1]);
        using var doc = System.Text.Json.JsonDocument.Parse(StudyOutput.CorrelationJson(rows));
        var first = doc.RootElement[0];
        Assert.Equal("Early", first.GetProperty("part").GetString());
        Assert.Equal(0.8, first.GetProperty("rho").GetDouble(), 12);
        Assert.Equal(4, first.GetProperty("n").GetInt32());
        Assert.True(first.GetProperty("exact").GetBoolean());
        Assert.True(first.GetProperty("low").GetDouble() <= 0.8);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, doc.RootElement.EnumerateArray().First(e => e.GetProperty("part").GetString() == "Final").GetProperty("rho").ValueKind);
    }
}
