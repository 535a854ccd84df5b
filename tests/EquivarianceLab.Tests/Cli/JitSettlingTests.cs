using EquivarianceLab.Cli.Commands;

namespace EquivarianceLab.Tests.Cli;

public class JitSettlingTests
{
    [Fact]
    public void Waits_until_two_readings_in_a_row_are_equal()
    {
        // The count grows for three polls, then stays: the fourth poll sees no change.
        var counts = new Queue<long>([10, 12, 15, 16, 16, 99]);
        var slept = new List<TimeSpan>();
        int polls = JitSettling.Wait(counts.Dequeue, slept.Add, TimeSpan.FromMilliseconds(100), maxPolls: 30);
        Assert.Equal(4, polls);
        Assert.Equal(4, slept.Count);
        Assert.All(slept, s => Assert.Equal(TimeSpan.FromMilliseconds(100), s));
        Assert.Equal([99L], counts); // the reading after the settled one is never taken
    }

    [Fact]
    public void Gives_up_after_the_most_polls_allowed_when_compiling_never_stops()
    {
        long count = 0;
        int sleeps = 0;
        int polls = JitSettling.Wait(() => count++, _ => sleeps++, TimeSpan.FromMilliseconds(1), maxPolls: 5);
        Assert.Equal(5, polls);
        Assert.Equal(5, sleeps);
    }

    [Fact]
    public void Returns_after_one_poll_when_nothing_compiles()
    {
        int sleeps = 0;
        Assert.Equal(1, JitSettling.Wait(() => 42, _ => sleeps++, TimeSpan.Zero, maxPolls: 30));
        Assert.Equal(1, sleeps);
    }
}
