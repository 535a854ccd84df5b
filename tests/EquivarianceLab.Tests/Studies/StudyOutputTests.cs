using System.Text.Json;
using EquivarianceLab.Measure;
using EquivarianceLab.Studies;
using static EquivarianceLab.Tests.Studies.SyntheticResults;

namespace EquivarianceLab.Tests.Studies;

/// <summary>NAME.json, NAME.csv and the paper-style table.</summary>
public class StudyOutputTests
{
    private static readonly StudyEntry[] Entries =
    [
        Entry("cnn", 91.5, "translation", ("Early", 0.5, 0.75), ("Middle", 0.25, 0.5), ("Late", 0.125, 0.25), ("Pool", 0.9, 0.95), ("Final", 0.99, 1.0)),
        Entry("featurizer", null, "translation", ("Early", 0.6, 0.7), ("Middle", 0.3, 0.4), ("Late", null, null), ("Pool", 0.8, 0.85)),
        Entry("cnn", 91.5, "rotation", ("Early", 0.1, 0.6), ("Pool", 0.4, 0.5), ("Final", 0.3, 0.35)),
    ];

    [Fact]
    public void Json_is_an_array_of_result_json_objects_with_the_model_id_and_accuracy()
    {
        var json = StudyOutput.Json(Entries);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(JsonValueKind.Array, doc.RootElement.ValueKind);
        Assert.Equal(3, doc.RootElement.GetArrayLength());
        var first = doc.RootElement[0];
        var names = first.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(["modelId", "label", "setting", "seed", "displayName", "accuracy", "accuracyDataset"], names.Take(7));
        // …followed by exactly the fields of result.json.
        using var single = JsonDocument.Parse(Entries[0].Result.ToJson());
        Assert.Equal(single.RootElement.EnumerateObject().Select(p => p.Name), names.Skip(7));
        // Without a setting an entry is a setting of its own; without a seed on its card, the seed is null.
        Assert.Equal("cnn", first.GetProperty("setting").GetString());
        Assert.Equal(JsonValueKind.Null, first.GetProperty("seed").ValueKind);
        Assert.Equal("cnn", first.GetProperty("modelId").GetString());
        Assert.Equal(91.5, first.GetProperty("accuracy").GetDouble());
        Assert.Equal(JsonValueKind.Null, doc.RootElement[1].GetProperty("accuracy").ValueKind);
        Assert.Equal(0.25, first.GetProperty("parts").GetProperty("Middle").GetProperty("invariance").GetDouble());

        // Each element reads as a result.json, and the whole file reads back.
        var asResult = MeasurementResult.FromJson(doc.RootElement[2].GetRawText());
        Assert.Equal("rotation", asResult.Transform);
        var back = StudyOutput.ReadJson(json);
        Assert.Equal(Entries.Select(e => (e.ModelId, e.Label, e.Accuracy, e.Result.Transform)), back.Select(e => (e.ModelId, e.Label, e.Accuracy, e.Result.Transform)));
        var replica = StudyOutput.ReadJson(StudyOutput.Json([Entries[0] with { ModelId = "cnn-seed2", Setting = "cnn", Seed = 2 }])).Single();
        Assert.Equal(("cnn-seed2", "cnn", 2), (replica.ModelId, replica.Setting, replica.Seed));
        Assert.Equal(Entries[1].Result.Parts.Keys, back[1].Result.Parts.Keys);
    }

    [Fact]
    public void Csv_has_one_row_per_model_part_and_family()
    {
        var lines = StudyOutput.Csv(Entries).TrimEnd('\n').Split('\n');
        Assert.Equal(StudyOutput.CsvHeader, lines[0]);
        var header = lines[0].Split(',');
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        Assert.All(rows, r => Assert.Equal(header.Length, r.Length));
        // 5 parts + 4 present parts (Late is present with no score) + 3 parts.
        Assert.Equal(5 + 4 + 3, rows.Count);
        string Cell(string[] row, string column) => row[Array.IndexOf(header, column)];
        var late = rows.Single(r => Cell(r, "modelId") == "featurizer" && Cell(r, "part") == "Late");
        Assert.Equal("", Cell(late, "invariance"));
        Assert.Equal("", Cell(late, "accuracy"));
        Assert.DoesNotContain(rows, r => Cell(r, "modelId") == "featurizer" && Cell(r, "part") == "Final");
        var early = rows.First(r => Cell(r, "transform") == "translation");
        Assert.Equal(["cnn", "CNN", "cnn", "", "91.5", "fmnist/test", "translation", "4", "pearson", "10", "t10k-images-idx3-ubyte.gz", "Early", "1", "0.5", "0.75"], early);
        Assert.All(rows.Where(r => Cell(r, "transform") == "rotation"), r => Assert.Equal("", Cell(r, "maxShift")));
    }

    [Fact]
    public void The_table_has_a_row_per_setting_and_blanks_for_missing_parts()
    {
        var study = StudyCatalog.Get("architecture"); // translation, then rotation
        var table = StudyOutput.Table(study, Entries);
        var blocks = table.Split("\n\n");
        Assert.Equal(2, blocks.Length);
        Assert.StartsWith("architecture (§4.6, Figure 7) · translation (diagonal shifts 1–4) · pearson · 10 images of t10k-images-idx3-ubyte.gz · mean ± sd across seeds", blocks[0]);
        Assert.StartsWith("architecture (§4.6, Figure 7) · rotation", blocks[1]);

        var lines = blocks[0].TrimEnd('\n').Split('\n');
        Assert.Equal(5, lines.Length); // title, part names, headings, two settings of one seed each
        foreach (var part in Parts.All) Assert.Contains(part, lines[1]);
        Assert.Equal(["setting", "label", "seeds", "acc", "%"], lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(5));
        Assert.Equal(10, lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries).Count(w => w is "inv" or "eqv"));
        // One seed: the value, and "—" for the standard deviation it cannot have.
        Assert.StartsWith("cnn         CNN             1   91.50 ± —        0.500 ± —      0.750 ± —", lines[3]);
        string[] Cells(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(w => w is not ("±" or "—")).ToArray();
        Assert.Equal(["cnn", "CNN", "1", "91.50", "0.500", "0.750", "0.250", "0.500", "0.125", "0.250", "0.900", "0.950", "0.990", "1.000"], Cells(lines[3]));
        // The featurizer: no accuracy, Late without a score, no Final: blank cells keep the columns in place.
        var featurizer = lines[4];
        Assert.Equal(["featurizer", "FEATURIZER", "1", "0.600", "0.700", "0.300", "0.400", "0.800", "0.850"], Cells(featurizer));
        Assert.Equal(lines[3].IndexOf("0.900", StringComparison.Ordinal), featurizer.IndexOf("0.800", StringComparison.Ordinal));
        Assert.Equal(lines[3].IndexOf("0.500", StringComparison.Ordinal), featurizer.IndexOf("0.600", StringComparison.Ordinal));
        Assert.Equal(lines[3].IndexOf("91.50", StringComparison.Ordinal), lines[2].IndexOf("acc %", StringComparison.Ordinal));
        Assert.Equal(lines[3].IndexOf("1   91.50", StringComparison.Ordinal) + 1 - "seeds".Length, lines[2].IndexOf("seeds", StringComparison.Ordinal));
    }
}
