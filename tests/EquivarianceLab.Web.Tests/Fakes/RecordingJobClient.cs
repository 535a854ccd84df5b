using Hangfire;
using Hangfire.Common;
using Hangfire.States;

namespace EquivarianceLab.Web.Tests.Fakes;

/// <summary>A Hangfire client for component tests: records what would be queued, runs nothing.</summary>
public sealed class RecordingJobClient : IBackgroundJobClient
{
    public List<(Job Job, IState State)> Created { get; } = [];
    public List<string> Deleted { get; } = [];

    public string Create(Job job, IState state)
    {
        Created.Add((job, state));
        return Created.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public bool ChangeState(string jobId, IState state, string expectedState)
    {
        if (state is DeletedState) Deleted.Add(jobId);
        return true;
    }
}
