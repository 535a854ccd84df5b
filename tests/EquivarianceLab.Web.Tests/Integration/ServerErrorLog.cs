using Microsoft.Extensions.Logging;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// The errors an app under test logs, appended to <c>server-errors.log</c> beside the test assembly. A failed assertion
/// on a 500 shows only the status (the response carries no exception, by design), and a failure that happens once in
/// many runs cannot be reproduced to find out why; <c>.ci/run</c> prints this file when the tests fail.
/// </summary>
internal sealed class ServerErrorLog(string app) : ILoggerProvider
{
    public static string FilePath { get; } = Path.Combine(AppContext.BaseDirectory, "server-errors.log");
    private static readonly Lock Gate = new();

    // Each test process starts the file afresh.
    static ServerErrorLog() => File.Delete(FilePath);

    public ILogger CreateLogger(string categoryName) => new Logger(app, categoryName);

    public void Dispose() { }

    private sealed class Logger(string app, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            var entry = $"{DateTime.UtcNow:O} {logLevel} in {app}, {category}: {formatter(state, exception)}{Environment.NewLine}{exception}{Environment.NewLine}";
            lock (Gate) File.AppendAllText(FilePath, entry);
        }
    }
}
