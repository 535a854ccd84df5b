using EquivarianceLab.Web.Accounts;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Runs;
using EquivarianceLab.Web.Tests.Fakes;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// A worker may claim a run the moment its Hangfire job exists, before the request that queued it has written the
/// job's id. Seen once in CI: the claim raised the run's fence, the save of the job id (conditional on the old fence)
/// affected no row, and queueing answered 500 for a run that was running. Here the job client itself claims the run
/// inside <c>Create</c>, as the fastest worker could, against the real app's database (a UI node: no job server).
/// </summary>
public sealed class QueueRaceTests : IAsyncLifetime
{
    private static readonly Caller Admin = new("admin-id", "admin", IsAdmin: true, IsMember: true);
    private readonly string _data = LabFactory.NewFolder("queue-race");
    private readonly string _zoo = LabFactory.ZooWithFashionMnist();
    private LabFactory _lab = null!;

    public Task InitializeAsync()
    {
        LabFactory.AddZooModel(_zoo, "control-a", "Control A", 80, FakeLab.FakeOnnx);
        _lab = new LabFactory(_data, _zoo, new FakeMeasurementRunner(),
            settings: new Dictionary<string, string> { ["EquivarianceLab:Role"] = "Ui" },
            services: s => s.AddSingleton<IBackgroundJobClient, ClaimingJobClient>());
        _lab.CreateClient().Dispose();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _lab.DisposeAsync();
        LabFactory.TryDelete(_data, _zoo);
    }

    [Fact]
    public async Task A_run_claimed_as_soon_as_its_job_exists_is_queued_all_the_same_with_its_job_id()
    {
        var runs = _lab.Services.GetRequiredService<RunService>();
        var client = (ClaimingJobClient)_lab.Services.GetRequiredService<IBackgroundJobClient>();

        var queued = await runs.QueueAsync(new RunRequest { ModelId = "control-a", ProbeSetId = "fashion-mnist-test", Transform = "rotation", Images = 32 }, Admin);

        var claimed = Assert.Single(client.Claims);
        Assert.NotNull(claimed); // the worker did claim it, inside Create
        await using var db = await _lab.Services.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
        var stored = await db.Runs.AsNoTracking().SingleAsync(r => r.Id == queued.Id);
        Assert.Equal(RunStatus.Running, stored.Status);
        Assert.Equal(claimed.Fence, stored.Fence);
        Assert.Equal("job-1", stored.HangfireJobId);
        Assert.Equal("job-1", queued.HangfireJobId);

        // Re-running it goes the same way, with a job of its own.
        var again = await runs.RerunAsync(queued.Id, Admin);
        Assert.Equal(2, client.Claims.Count);
        Assert.Equal("job-2", (await db.Runs.AsNoTracking().SingleAsync(r => r.Id == again.Id)).HangfireJobId);
    }

    /// <summary>A job client that, like a worker fetching the job at once, claims the run before returning the job's id.</summary>
    private sealed class ClaimingJobClient(IServiceProvider services) : IBackgroundJobClient
    {
        public List<ClaimedRun?> Claims { get; } = [];

        public string Create(Job job, IState state)
        {
            int runId = (int)job.Args[0]!;
            string attemptToken = (string)job.Args[1]!;
            Claims.Add(services.GetRequiredService<RunService>().Claim(runId, attemptToken, "host:1:fast", "cpu"));
            return $"job-{Claims.Count}";
        }

        public bool ChangeState(string jobId, IState state, string expectedState) => true;
    }
}
