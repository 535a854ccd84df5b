using System.Text.Json;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Jobs;

namespace EquivarianceLab.Web.Workers;

/// <summary>
/// The worker process: <c>EquivarianceLab.Web worker</c> reads one <see cref="WorkerRequest"/> from standard input,
/// runs it with the library (<see cref="InProcessRunner"/>) and writes <see cref="WorkerMessage"/> lines to standard
/// output. Its parent (<see cref="WorkerProcess"/>) started it under an address-space cap, and kills it on cancel or
/// when it runs over its time; a crash here ends only this process.
/// </summary>
public static class WorkerHost
{
    public const string Argument = "worker";

    private const string ThreadPoolSpinLimit = "System.Threading.ThreadPool.UnfairSemaphoreSpinLimit";

    /// <summary>Exit codes: 0 the work was done, 1 it failed with a message, 2 the request could not be read.</summary>
    public static int Run(Stream input, Stream output)
    {
        // Before anything starts the thread pool: its workers sleep as soon as a parallel loop ends instead of
        // spinning for more work, which took a core from the next forward pass (eqlab sets the same in its
        // runtimeconfig; docs/performance.md). Only here: the dashboard's own process keeps .NET's default.
        AppContext.SetData(ThreadPoolSpinLimit, 0);
        var protocol = new StreamWriter(output) { AutoFlush = true };
        // Standard output belongs to the protocol; anything the libraries print goes to standard error.
        Console.SetOut(Console.Error);
        WorkerRequest? request;
        try { request = JsonSerializer.Deserialize<WorkerRequest>(input, WorkerMessage.Json); }
        catch (JsonException e) { Send(protocol, new WorkerMessage { Error = $"The worker could not read its request: {e.Message}" }); return 2; }
        if (request is null) { Send(protocol, new WorkerMessage { Error = "The worker got an empty request." }); return 2; }
        try
        {
            Send(protocol, Execute(request, protocol));
            return 0;
        }
        catch (Exception e)
        {
            Send(protocol, new WorkerMessage { Error = LibraryErrors.Describe(e), OutOfMemory = IsOutOfMemory(e) });
            return 1;
        }
    }

    private static WorkerMessage Execute(WorkerRequest request, StreamWriter protocol)
    {
        var runner = new InProcessRunner(request.Limits);
        switch (request.Task)
        {
            case WorkerTask.InspectModel:
                return new WorkerMessage { Model = runner.InspectModel(Required(request.ModelPath), CardJson.Parse(Required(request.CardJson))) };
            case WorkerTask.InspectProbeSet:
                return new WorkerMessage { ProbeSet = runner.InspectProbeSet(Required(request.ProbePath), request.Samples) };
            case WorkerTask.Measure:
                var progress = new Progress(protocol);
                var result = runner.Measure(Required(request.ModelPath), CardJson.Parse(Required(request.CardJson)), Required(request.ProbePath),
                    request.Options ?? new MeasureOptions(), new LayerChoice(request.Layers, request.Logits), progress, CancellationToken.None);
                return new WorkerMessage { Result = result.ToJson() };
            case WorkerTask.FeatureMaps:
                return new WorkerMessage
                {
                    FeatureMaps = runner.FeatureMaps(Required(request.ModelPath), CardJson.Parse(Required(request.CardJson)), Required(request.ProbePath),
                        request.Options ?? new MeasureOptions(), request.FeatureMap ?? throw new EquivarianceLabException("The worker request lacks the feature maps asked for."),
                        CancellationToken.None),
                };
            default:
                throw new EquivarianceLabException($"Unknown worker task {request.Task}.");
        }
    }

    private static string Required(string? value) => value ?? throw new EquivarianceLabException("The worker request lacks a file.");

    /// <summary>libtorch, ONNX Runtime and .NET each word a refused allocation differently.</summary>
    internal static bool IsOutOfMemory(Exception e) => e is OutOfMemoryException or InsufficientMemoryException || IsOutOfMemoryText(e.Message);

    internal static bool IsOutOfMemoryText(string text) =>
        text.Contains("can't allocate memory", StringComparison.OrdinalIgnoreCase)
        || text.Contains("Failed to allocate memory", StringComparison.OrdinalIgnoreCase)
        || text.Contains("bad_alloc", StringComparison.OrdinalIgnoreCase)
        || text.Contains("OutOfMemory", StringComparison.Ordinal)
        || text.Contains("out of memory", StringComparison.OrdinalIgnoreCase);

    private static readonly Lock SendLock = new();

    private static void Send(StreamWriter protocol, WorkerMessage message)
    {
        var line = JsonSerializer.Serialize(message, WorkerMessage.Json);
        lock (SendLock) protocol.WriteLine(line);
    }

    /// <summary>Every progress report goes up; the parent throttles what it writes to the database.</summary>
    private sealed class Progress(StreamWriter protocol) : IProgress<MeasureProgress>
    {
        public void Report(MeasureProgress value) => Send(protocol, new WorkerMessage { Progress = value });
    }
}
