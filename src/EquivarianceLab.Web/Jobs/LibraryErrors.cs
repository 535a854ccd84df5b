namespace EquivarianceLab.Web.Jobs;

/// <summary>
/// What users see of a failure in the library (a measurement, or opening an upload): the library's own message, never a
/// stack trace or an exception type name. Callers pass it through <see cref="Security.SafeText"/> to take out paths.
/// </summary>
public static class LibraryErrors
{
    public static string Describe(Exception e) => e switch
    {
        EquivarianceLabException or Workers.WorkerFailedException => e.Message,
        InvalidDataException or FileNotFoundException or DirectoryNotFoundException => e.Message,
        OutOfMemoryException or InsufficientExecutionStackException => "Out of memory: try fewer images.",
        _ => $"Unexpected error: {e.Message}",
    };
}
