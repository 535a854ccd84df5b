using System.Runtime.InteropServices;

namespace EquivarianceLab.Cli;

/// <summary>
/// Ends a command that ran tensors without the native libraries' teardown. At a normal exit libtorch's static
/// destructors unregister each of its thousands of operators one by one: about 0.15 s of every <c>eqlab measure</c>
/// (seen in <c>perf</c>: <c>OperatorEntry::deregisterKernel_</c> and its neighbours after the last line was written),
/// for memory the system takes back anyway. By then every file the command wrote is closed (they are written whole and
/// disposed) and the console is flushed here; nothing else of the process outlives it. Program.cs calls it for the
/// commands that run tensors; those that keep a database open (<c>users</c>, <c>db</c>) end the ordinary way, so their
/// connections close as usual.
/// </summary>
public static class QuickExit
{
    /// <summary>
    /// Flushes the console and ends the process with <paramref name="code"/> (on Linux, through libc's <c>_exit</c>);
    /// elsewhere it returns and the process ends the ordinary way.
    /// </summary>
    public static void Now(int code)
    {
        if (!OperatingSystem.IsLinux()) return;
        Console.Out.Flush();
        Console.Error.Flush();
        _exit(code);
    }

    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void _exit(int status);
}
