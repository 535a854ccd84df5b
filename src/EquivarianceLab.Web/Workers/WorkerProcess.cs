using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using EquivarianceLab.Measure;

namespace EquivarianceLab.Web.Workers;

/// <summary>
/// Starts one worker process for one piece of work and waits for its answer. The OS enforces the memory cap: a shell
/// sets RLIMIT_DATA (heap and every private writable mapping: what tensors, ONNX Runtime arenas and the managed heap
/// really use), then execs the worker. RLIMIT_AS would count the runtime's address-space reservations too — .NET and
/// glibc reserve several GiB of PROT_NONE space in an idle worker — so a cap there would say little about memory.
/// This class enforces the wall-clock budget and cancellation by killing the process. Whatever happens to the worker, the caller gets either
/// its answer or a <see cref="WorkerFailedException"/> whose message says what happened in words a user can act on.
/// </summary>
public sealed class WorkerProcess(WorkerLimits limits, ILogger<WorkerProcess> logger)
{
    /// <summary>Standard error kept for the log (the end of it: a crash prints its reason last).</summary>
    private const int StderrKept = 8192;

    public WorkerMessage Run(WorkerRequest request, TimeSpan budget, Action<MeasureProgress>? onProgress, CancellationToken cancellationToken)
    {
        using var process = Start(request);
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
                if (stderr.Length > 2 * StderrKept) stderr.Remove(0, stderr.Length - StderrKept);
            }
        };
        process.BeginErrorReadLine();

        using var overBudget = new CancellationTokenSource(budget);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, overBudget.Token);
        // Killing is the only way to stop native code (a convolution, an ONNX Runtime session) at once.
        using var killer = stop.Token.Register(() => Kill(process));

        WorkerMessage? answer = null;
        try
        {
            string? line;
            while ((line = process.StandardOutput.ReadLine()) is not null)
            {
                var message = Parse(line);
                if (message is null) continue;
                if (message.Progress is { } p) onProgress?.Invoke(p);
                else answer = message;
            }
        }
        catch (IOException) { /* the pipe broke because the process died: judged below */ }
        process.WaitForExit();

        cancellationToken.ThrowIfCancellationRequested();
        if (overBudget.IsCancellationRequested)
            throw new WorkerFailedException($"It ran longer than the {Describe(budget)} limit and was stopped.");
        if (answer is { Error: { } error })
            throw new WorkerFailedException(answer.OutOfMemory ? OverMemory() : error);
        if (answer is not null && process.ExitCode == 0) return answer;

        string tail;
        lock (stderr) tail = stderr.ToString();
        logger.LogWarning("Worker process {Pid} ended with exit code {Code} and no answer. Its last output: {Stderr}", process.Id, process.ExitCode, tail);
        throw new WorkerFailedException(Explain(process.ExitCode, tail));
    }

    private Process Start(WorkerRequest request)
    {
        var (dotnet, dll) = WorkerCommand();
        // The cap must be in place before the runtime starts: `ulimit -d` in a shell that then execs the worker.
        var info = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("ulimit -d \"$0\" && exec \"$@\"");
        info.ArgumentList.Add(((long)limits.MemoryLimitMiB * 1024).ToString(CultureInfo.InvariantCulture));
        info.ArgumentList.Add(dotnet);
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add(WorkerHost.Argument);
        if (limits.Threads > 0)
        {
            var threads = limits.Threads.ToString(CultureInfo.InvariantCulture);
            // OpenMP (libtorch) reads the first two; .NET's Environment.ProcessorCount, which sizes ONNX Runtime's
            // intra-op pool and the thread pool, reads the third.
            info.Environment["OMP_NUM_THREADS"] = threads;
            info.Environment["MKL_NUM_THREADS"] = threads;
            info.Environment["DOTNET_PROCESSOR_COUNT"] = threads;
        }
        // The worker is not a web server: nothing of the parent's hosting set-up applies to it.
        info.Environment.Remove("ASPNETCORE_URLS");
        var process = Process.Start(info) ?? throw new WorkerFailedException("The worker process could not be started.");
        try
        {
            using (var stdin = process.StandardInput)
                stdin.Write(JsonSerializer.Serialize(request, WorkerMessage.Json));
        }
        catch (IOException)
        {
            // It died before reading its request; its exit code tells why.
        }
        return process;
    }

    /// <summary>
    /// This very app's dll, started again by the dotnet host with the argument <c>worker</c> (whether the app runs
    /// from a plain build, the test host, <c>dotnet run</c> or its apphost).
    /// </summary>
    private static (string Dotnet, string Dll) WorkerCommand()
    {
        var dll = typeof(WorkerHost).Assembly.Location;
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (string.IsNullOrEmpty(dotnet) || !File.Exists(dotnet))
        {
            var current = Environment.ProcessPath;
            dotnet = current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet"
                ? current
                : Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", "..", "dotnet"));
        }
        return (File.Exists(dotnet) ? dotnet : "dotnet", dll);
    }

    private static WorkerMessage? Parse(string line)
    {
        if (!line.StartsWith('{')) return null;
        try { return JsonSerializer.Deserialize<WorkerMessage>(line, WorkerMessage.Json); }
        catch (JsonException) { return null; }
    }

    private void Kill(Process process)
    {
        try { process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { /* already gone */ }
        catch (System.ComponentModel.Win32Exception e) { logger.LogWarning(e, "Could not kill worker process {Pid}.", process.Id); }
    }

    private string OverMemory() => $"It exceeded the {MemoryLimit} memory limit of a worker.";

    /// <summary>A worker that ended without an answer: killed from outside, crashed, or stopped by the memory cap.</summary>
    private string Explain(int exitCode, string stderr)
    {
        if (WorkerHost.IsOutOfMemoryText(stderr)) return OverMemory();
        if (stderr.Contains("Stack overflow", StringComparison.OrdinalIgnoreCase))
            return "The worker process ran out of stack: the file is nested too deeply to read.";
        // A process ended by a signal reports 128 + the signal number.
        if (exitCode > 128 && exitCode < 128 + 65)
        {
            var signal = exitCode - 128;
            return signal switch
            {
                9 => "The worker process was killed (signal 9: by an administrator, or by the system when memory ran out).",
                6 => $"The worker process aborted (signal 6), most likely when an allocation failed under the {MemoryLimit} memory limit.",
                11 => "The worker process crashed (signal 11) while reading the files.",
                15 => "The worker process was terminated (signal 15).",
                _ => $"The worker process ended on signal {signal}.",
            };
        }
        return $"The worker process ended unexpectedly (exit code {exitCode}).";
    }

    internal static string Describe(TimeSpan t) =>
        t.TotalHours >= 1 && t.TotalHours % 1 == 0 ? $"{t.TotalHours:0}-hour"
        : t.TotalMinutes >= 1 && t.TotalMinutes % 1 == 0 ? $"{t.TotalMinutes:0}-minute"
        : $"{t.TotalSeconds:0.#}-second";

    private string MemoryLimit => Uploads.UploadWriter.Format((long)limits.MemoryLimitMiB << 20);
}

/// <summary>A worker ended without doing its work; the message is for users (no paths, no stack traces).</summary>
public sealed class WorkerFailedException(string message) : Exception(message);
