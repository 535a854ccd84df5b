using EquivarianceLab;

namespace EquivarianceLab.Cli;

/// <summary>Bad input ends with one clear line on stderr and a non-zero exit code, never a stack trace.</summary>
public static class CliErrors
{
    public const int UserError = 2, InternalError = 1, Cancelled = 130;

    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e)
        {
            return Report(e);
        }
    }

    public static int Report(Exception e)
    {
        switch (Unwrap(e))
        {
            case EquivarianceLabException user:
                Console.Error.WriteLine($"eqlab: {user.Message}");
                return UserError;
            case OperationCanceledException:
                Console.Error.WriteLine("eqlab: cancelled.");
                return Cancelled;
            case FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException:
                Console.Error.WriteLine($"eqlab: {e.Message}");
                return UserError;
            case var other:
                Console.Error.WriteLine($"eqlab: {other.GetType().Name}: {Messages.FirstLine(other.Message)}");
                if (Environment.GetEnvironmentVariable("EQLAB_DEBUG") == "1") Console.Error.WriteLine(other);
                return InternalError;
        }
    }

    private static Exception Unwrap(Exception e) =>
        e is AggregateException { InnerExceptions.Count: 1 } a ? Unwrap(a.InnerExceptions[0])
        : e is System.Reflection.TargetInvocationException { InnerException: { } inner } ? Unwrap(inner)
        : e;
}
