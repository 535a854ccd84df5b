using System.Runtime;

namespace EquivarianceLab.Cli.Commands;

/// <summary>
/// Waiting for the JIT to finish before a timing. .NET compiles a method quickly first and, once it has run about 30
/// times, again with full optimisation on a background thread; that second compilation can land inside the first
/// timed run and take a core from it (seen in <c>eqlab bench</c>: a few percent of the first measurement's CPU time).
/// </summary>
public static class JitSettling
{
    /// <summary>
    /// Polls <paramref name="compiledMethods"/> every <paramref name="interval"/> and returns once two readings in a
    /// row are equal (nothing compiled in between), or after <paramref name="maxPolls"/> polls. Returns the polls made.
    /// </summary>
    public static int Wait(Func<long> compiledMethods, Action<TimeSpan> sleep, TimeSpan interval, int maxPolls)
    {
        long last = compiledMethods();
        for (int poll = 1; poll <= maxPolls; poll++)
        {
            sleep(interval);
            long now = compiledMethods();
            if (now == last) return poll;
            last = now;
        }
        return maxPolls;
    }

    /// <summary>This process: every 100 ms, for at most 3 s.</summary>
    public static void Wait() =>
        Wait(() => JitInfo.GetCompiledMethodCount(), Thread.Sleep, TimeSpan.FromMilliseconds(100), 30);
}
