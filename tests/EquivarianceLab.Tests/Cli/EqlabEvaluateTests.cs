using System.Text.Json.Nodes;
using EquivarianceLab.Tests.Training;

namespace EquivarianceLab.Tests.Cli;

/// <summary><c>eqlab evaluate</c> on a copy of one zoo model: agrees with its card, notices a card that claims too much, refuses what it cannot check.</summary>
public sealed class EqlabEvaluateTests : IDisposable
{
    private readonly TempDirectory _zoo = new();
    private readonly string _model;

    public EqlabEvaluateTests()
    {
        var source = Path.Combine(FeatureModels.RepositoryPaths.ModelsFolder!, "cnn7-fmnist6");
        _model = Directory.CreateDirectory(Path.Combine(_zoo.Path, "cnn7-fmnist6")).FullName;
        foreach (var f in Directory.GetFiles(source)) File.Copy(f, Path.Combine(_model, Path.GetFileName(f)));
    }

    public void Dispose() => _zoo.Dispose();

    private void EditCard(Action<JsonObject> edit)
    {
        var path = Path.Combine(_model, "card.json");
        var card = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(card);
        File.WriteAllText(path, card.ToJsonString());
    }

    [Fact]
    public void A_card_that_holds_passes_and_one_that_claims_a_point_too_much_fails()
    {
        var ok = Eqlab.Run(_zoo.Path, "evaluate", "--zoo", _zoo.Path);
        Assert.True(ok.ExitCode == 0, ok.ToString());
        var row = ok.Stdout.Split('\n').Single(l => l.StartsWith("cnn7-fmnist6 ", StringComparison.Ordinal));
        Assert.Contains("fmnist6/test", row);
        Assert.Contains("0.00", row);
        Assert.DoesNotContain("differs", row);

        EditCard(c => c["accuracy"] = c["accuracy"]!.GetValue<double>() + 1.0);
        var off = Eqlab.Run(_zoo.Path, "evaluate", "--model", _model);
        Assert.True(off.ExitCode == 1, off.ToString());
        Assert.Contains("-1.00", off.Stdout);
        Assert.Contains("differs", off.Stdout);
        Assert.Contains("1 of 1 model(s) differ from their card by more than 0.1 points", off.Stderr);

        var lenient = Eqlab.Run(_zoo.Path, "evaluate", "--model", _model, "--tolerance", "1.5");
        Assert.True(lenient.ExitCode == 0, lenient.ToString());
    }

    [Fact]
    public void What_cannot_be_checked_is_one_clear_line_and_exit_2()
    {
        var unknown = Eqlab.Run(_zoo.Path, "evaluate", "--zoo", _zoo.Path, "--model", "no-such-model");
        Assert.Equal(2, unknown.ExitCode);
        Assert.Equal(["eqlab: --model no-such-model: not a zoo id, a folder with card.json, or a weight file with no-such-model.card.json beside it."], unknown.StderrLines);

        EditCard(c => c.Remove("accuracy"));
        var noAccuracy = Eqlab.Run(_zoo.Path, "evaluate", "--model", _model);
        Assert.Equal(2, noAccuracy.ExitCode);
        Assert.Equal(["eqlab: cnn7-fmnist6: its card records no accuracy and accuracyDataset to compare with."], noAccuracy.StderrLines);
    }
}
