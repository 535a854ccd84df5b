using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Results;
using EquivarianceLab.Web.Runs;
using EquivarianceLab.Web.Runs.Pages;
using EquivarianceLab.Web.Tests.Fakes;

namespace EquivarianceLab.Web.Tests.Components;

/// <summary>
/// The run page says when the model's file is no longer the one the run measured, and only then; the comparison shows
/// no accuracy for such a run (the model's is the new file's).
/// </summary>
public sealed class RunModelFileTests : MudTestBase
{
    private Run AddRun(string? measuredHash, string? currentHash)
    {
        AddProbeSet();
        AddModel("cnn-a", "CNN A", 90);
        using var db = DbFactory.CreateDbContext();
        db.Models.Single(m => m.Id == "cnn-a").ContentHash = currentHash;
        var run = new Run
        {
            ModelId = "cnn-a", ProbeSetId = "fashion-mnist-test", Transform = "rotation", Similarity = "pearson", Images = 64, MaxShift = 4,
            Status = RunStatus.Done, ImagesDone = 64, ImagesTotal = 64, CreatedUtc = DateTime.UtcNow, FinishedUtc = DateTime.UtcNow,
            ModelContentHash = measuredHash,
        };
        ResultStore.Store(run, FakeMeasurementRunner.Synthetic("cnn-a", "fashion-mnist-test", RunRequest.ToOptions("rotation", "pearson", 64, 4)));
        db.Runs.Add(run);
        db.SaveChanges();
        return run;
    }

    [Theory]
    [InlineData("aaaa", "bbbb", true)]   // measured one file, the model now has another
    [InlineData("aaaa", "aaaa", false)]  // the same file
    [InlineData(null, "bbbb", false)]    // nothing recorded: nothing to say
    [InlineData(null, null, false)]      // a built-in model has no file
    public void The_page_warns_only_when_the_measured_file_is_not_the_models_file(string? measured, string? current, bool warns)
    {
        var run = AddRun(measured, current);
        var cut = Render<RunDetails>(ps => ps.Add(p => p.RunId, run.Id));
        var alerts = cut.FindAll("[data-testid=run-model-changed]");
        Assert.Equal(warns ? 1 : 0, alerts.Count);
        if (warns) Assert.Contains("file has changed since this run measured it", alerts[0].TextContent);

        // The comparison table shows the model's accuracy only for a run of its current file.
        var compare = RenderAt<EquivarianceLab.Web.Compare.Pages.ComparePage>($"compare?runs={run.Id}");
        var accuracy = compare.Find("[data-testid=compare-table] tbody tr").QuerySelectorAll("td")[3].TextContent;
        Assert.Equal(warns ? "—" : "90 %", accuracy);
    }
}
