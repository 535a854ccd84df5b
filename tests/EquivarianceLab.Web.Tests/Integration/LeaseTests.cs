using EquivarianceLab.Web.Accounts;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Runs;
using EquivarianceLab.Web.Tests.Fakes;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// Runs owned by leases (issue 13, item 3), against the real app's database and Hangfire storage with no job server
/// (a UI node), so nothing but the test moves a run: a worker that lost its run (its lease ran out and the run was
/// taken back) can write neither progress nor a result; the new holder finishes it; two nodes sweeping at once take a
/// run back once; cancel closes a run whose worker is gone and signals one whose worker lives; restarts run out.
/// </summary>
public sealed class LeaseTests : IAsyncLifetime
{
    private readonly string _data = LabFactory.NewFolder("leases");
    private readonly string _zoo = LabFactory.ZooWithFashionMnist();
    private LabFactory _lab = null!;
    private static readonly Caller Admin = new("admin-id", "admin", IsAdmin: true, IsMember: true);

    public Task InitializeAsync()
    {
        LabFactory.AddZooModel(_zoo, "control-a", "Control A", 80, FakeLab.FakeOnnx);
        // Long leases and a slow sweeper: the tests expire leases themselves, and nothing sweeps behind their back.
        _lab = new LabFactory(_data, _zoo, new FakeMeasurementRunner(), settings: new Dictionary<string, string>
        {
            ["EquivarianceLab:Role"] = "Ui",
            ["EquivarianceLab:Leases:Duration"] = "00:30:00",
            ["EquivarianceLab:Leases:Heartbeat"] = "00:10:00",
        });
        _lab.CreateClient().Dispose();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _lab.DisposeAsync();
        LabFactory.TryDelete(_data, _zoo);
    }

    private RunService Runs => _lab.Services.GetRequiredService<RunService>();

    private async Task<AppDbContext> DbAsync() =>
        await _lab.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();

    private async Task<int> AddRunAsync(string attemptToken = "first")
    {
        await using var db = await DbAsync();
        var run = new Run
        {
            ModelId = "control-a", ProbeSetId = "fashion-mnist-test", Transform = "rotation", Similarity = "pearson", Images = 32,
            Status = RunStatus.Queued, AttemptToken = attemptToken, CreatedUtc = DateTime.UtcNow,
        };
        db.Runs.Add(run);
        await db.SaveChangesAsync();
        return run.Id;
    }

    /// <summary>What a dead worker leaves: its lease is in the past.</summary>
    private async Task ExpireAsync(int id)
    {
        await using var db = await DbAsync();
        await db.Runs.Where(r => r.Id == id).ExecuteUpdateAsync(s => s.SetProperty(r => r.LeaseExpiresUtc, DateTime.UtcNow.AddSeconds(-1)));
    }

    private async Task<Run> ReadAsync(int id)
    {
        await using var db = await DbAsync();
        return await db.Runs.AsNoTracking().Include(r => r.Parts).FirstAsync(r => r.Id == id);
    }

    [Fact]
    public async Task A_worker_that_lost_its_run_can_write_nothing_and_the_new_holder_finishes_it()
    {
        var id = await AddRunAsync();
        var first = Runs.Claim(id, "first", "host:1:aaaa", "cpu");
        Assert.NotNull(first);
        Assert.Null(Runs.Claim(id, "first", "host:2:bbbb", "cpu")); // a duplicate job claims nothing
        var claimed = await ReadAsync(id);
        Assert.Equal((RunStatus.Running, "host:1:aaaa", first.Fence), (claimed.Status, claimed.Worker, claimed.Fence));
        Assert.True(claimed.LeaseExpiresUtc > DateTime.UtcNow.AddMinutes(29), "the claim gives a lease of the configured length");
        Assert.Equal(LeaseState.Held, Runs.WriteProgress(id, first.Fence, 5, 32, 10));
        Assert.Equal(LeaseState.Held, Runs.RenewLease(id, first.Fence));

        // The worker stops answering; its lease runs out and a node takes the run back.
        await ExpireAsync(id);
        Assert.Equal(1, await Runs.SweepExpiredLeasesAsync());
        var requeued = await ReadAsync(id);
        Assert.Equal((RunStatus.Queued, 1, first.Fence + 1), (requeued.Status, requeued.Restarts, requeued.Fence));
        Assert.NotEqual("first", requeued.AttemptToken);
        Assert.NotNull(requeued.HangfireJobId);
        Assert.Equal(0, requeued.ImagesDone);

        // The old worker comes back: every write it makes is refused, and its old job claims nothing.
        Assert.Equal(LeaseState.Lost, Runs.WriteProgress(id, first.Fence, 20, 32, 1));
        Assert.Equal(LeaseState.Lost, Runs.RenewLease(id, first.Fence));
        Assert.False(Runs.Finish(id, first.Fence, r => { r.Status = RunStatus.Done; r.Parts.Add(new PartScoreRow { Part = "Early", Invariance = 0.5 }); }));
        Assert.Null(Runs.Claim(id, "first", "host:1:aaaa", "cpu"));
        var untouched = await ReadAsync(id);
        Assert.Equal((RunStatus.Queued, 0, 0), (untouched.Status, untouched.ImagesDone, untouched.Parts.Count));

        // The new job's worker claims it with a newer fence and finishes it.
        var second = Runs.Claim(id, requeued.AttemptToken, "host:3:cccc", "cpu");
        Assert.NotNull(second);
        Assert.Equal(first.Fence + 2, second.Fence);
        Assert.True(Runs.Finish(id, second.Fence, r => { r.Status = RunStatus.Done; r.Parts.Add(new PartScoreRow { Part = "Early", Invariance = 0.25 }); }));
        var done = await ReadAsync(id);
        Assert.Equal((RunStatus.Done, "host:3:cccc", 0.25), (done.Status, done.Worker, Assert.Single(done.Parts).Invariance));
        Assert.Null(done.LeaseExpiresUtc);
    }

    [Fact]
    public async Task Two_nodes_sweeping_at_once_take_each_expired_run_back_once()
    {
        var ids = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            var id = await AddRunAsync();
            Assert.NotNull(Runs.Claim(id, "first", "host:1:aaaa", "cpu"));
            await ExpireAsync(id);
            ids.Add(id);
        }
        var monitor = _lab.Services.GetRequiredService<JobStorage>().GetMonitoringApi();
        var before = monitor.EnqueuedCount("cpu");

        // Two sweeps at once, each with its own database connections, as two nodes would.
        var taken = await Task.WhenAll(Runs.SweepExpiredLeasesAsync(), Runs.SweepExpiredLeasesAsync(), Runs.SweepExpiredLeasesAsync());
        Assert.Equal(6, taken.Sum());
        foreach (var id in ids)
        {
            var run = await ReadAsync(id);
            Assert.Equal((RunStatus.Queued, 1), (run.Status, run.Restarts));
        }
        Assert.Equal(before + 6, monitor.EnqueuedCount("cpu"));
        Assert.Equal(0, await Runs.SweepExpiredLeasesAsync());
    }

    [Fact]
    public async Task Cancel_closes_a_run_whose_worker_is_gone_and_signals_one_whose_worker_lives()
    {
        var gone = await AddRunAsync();
        var goneClaim = Runs.Claim(gone, "first", "host:1:aaaa", "cpu")!;
        await ExpireAsync(gone);
        Assert.True(await Runs.CancelAsync(gone, Admin));
        var closed = await ReadAsync(gone);
        Assert.Equal(RunStatus.Cancelled, closed.Status);
        Assert.NotNull(closed.FinishedUtc);
        Assert.False(Runs.Finish(gone, goneClaim.Fence, r => r.Status = RunStatus.Done), "the dead worker's late result is refused");
        Assert.Equal(0, await Runs.SweepExpiredLeasesAsync());

        var live = await AddRunAsync();
        var liveClaim = Runs.Claim(live, "first", "host:2:bbbb", "cpu")!;
        Assert.True(await Runs.CancelAsync(live, Admin));
        var signalled = await ReadAsync(live);
        Assert.Equal((RunStatus.Running, true), (signalled.Status, signalled.CancelRequested));
        // The worker learns it at its next write, and closes the run itself.
        Assert.Equal(LeaseState.CancelRequested, Runs.WriteProgress(live, liveClaim.Fence, 3, 32, null));
        Assert.True(Runs.Finish(live, liveClaim.Fence, r => r.Status = RunStatus.Cancelled));
        Assert.Equal(RunStatus.Cancelled, (await ReadAsync(live)).Status);
    }

    [Fact]
    public async Task A_run_whose_worker_dies_more_often_than_it_may_restart_is_failed_with_the_reason()
    {
        var id = await AddRunAsync();
        Assert.NotNull(Runs.Claim(id, "first", "host:1:aaaa", "cpu"));
        await ExpireAsync(id);
        Assert.Equal(1, await Runs.SweepExpiredLeasesAsync());
        var token = (await ReadAsync(id)).AttemptToken;
        Assert.NotNull(Runs.Claim(id, token, "host:2:bbbb", "cpu"));
        await ExpireAsync(id);
        Assert.Equal(1, await Runs.SweepExpiredLeasesAsync());
        var failed = await ReadAsync(id);
        Assert.Equal(RunStatus.Failed, failed.Status);
        Assert.Equal("Interrupted: its worker stopped answering while it ran (2 attempts); use Re-run to queue it again.", failed.Error);
    }
}
