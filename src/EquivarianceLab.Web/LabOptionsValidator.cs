using Microsoft.Extensions.Options;

namespace EquivarianceLab.Web;

/// <summary>
/// Checks the <c>EquivarianceLab</c> settings when the app starts, so a wrong one stops it with one line that names the
/// key, instead of failing on first use.
/// </summary>
public sealed class LabOptionsValidator : IValidateOptions<LabOptions>
{
    public ValidateOptionsResult Validate(string? name, LabOptions o)
    {
        var problems = Problems(o).ToList();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    public static IEnumerable<string> Problems(LabOptions o)
    {
        const string s = LabOptions.Section;
        if (string.IsNullOrWhiteSpace(o.DataFolder)) yield return $"{s}:DataFolder must name a folder.";
        if (string.IsNullOrWhiteSpace(o.ZooFolder)) yield return $"{s}:ZooFolder must name a folder.";
        if (!(o.Database.Equals("Sqlite", StringComparison.OrdinalIgnoreCase) || Data.DataExtensions.IsPostgres(o)))
            yield return $"{s}:Database must be Sqlite or PostgreSql (got '{o.Database}').";
        if (o.MaxUploadBytes < 1) yield return $"{s}:MaxUploadBytes must be a positive number of bytes (got {o.MaxUploadBytes}).";
        if (o.MaxRestarts < 0) yield return $"{s}:MaxRestarts must be 0 or more (got {o.MaxRestarts}).";
        if (o.ConcurrentRuns is < 1 or > 64) yield return $"{s}:ConcurrentRuns must be between 1 and 64 (got {o.ConcurrentRuns}).";
        if (!Enum.IsDefined(o.Role)) yield return $"{s}:Role must be Both, Ui or Worker.";
        if (!(o.Storage.IsS3 || o.Storage.Kind.Equals(StorageOptions.FolderKind, StringComparison.OrdinalIgnoreCase)))
            yield return $"{s}:Storage:Kind must be Folder or S3 (got '{o.Storage.Kind}').";
        if (o.Storage.IsS3)
        {
            if (o.Storage.S3.ServiceUrl is { Length: > 0 } url && !Uri.TryCreate(url, UriKind.Absolute, out _))
                yield return $"{s}:Storage:S3:ServiceUrl must be an absolute URL such as http://minio:9000 (got '{url}').";
            if (string.IsNullOrWhiteSpace(o.Storage.S3.Bucket)) yield return $"{s}:Storage:S3:Bucket must name a bucket.";
            if (o.Storage.S3.PartSizeMiB is < 5 or > 5120) yield return $"{s}:Storage:S3:PartSizeMiB must be between 5 and 5120 (got {o.Storage.S3.PartSizeMiB}).";
            if (string.IsNullOrEmpty(o.Storage.S3.AccessKey) != string.IsNullOrEmpty(o.Storage.S3.SecretKey))
                yield return $"{s}:Storage:S3:AccessKey and {s}:Storage:S3:SecretKey must be set together.";
        }
        if (o.Leases.Duration < TimeSpan.FromSeconds(2) || o.Leases.Duration > TimeSpan.FromHours(1))
            yield return $"{s}:Leases:Duration must be between 00:00:02 and 01:00:00 (got {o.Leases.Duration}).";
        if (o.Leases.Heartbeat <= TimeSpan.Zero || o.Leases.Heartbeat * 2 > o.Leases.Duration)
            yield return $"{s}:Leases:Heartbeat must be positive and at most half of Leases:Duration (got {o.Leases.Heartbeat}).";
        if (o.ProbeLimits.MaxEntries < 1) yield return $"{s}:ProbeLimits:MaxEntries must be positive (got {o.ProbeLimits.MaxEntries}).";
        if (o.ProbeLimits.MaxUncompressedBytes < 1) yield return $"{s}:ProbeLimits:MaxUncompressedBytes must be positive (got {o.ProbeLimits.MaxUncompressedBytes}).";
        if (!(o.ProbeLimits.MaxCompressionRatio > 1)) yield return $"{s}:ProbeLimits:MaxCompressionRatio must be above 1 (got {o.ProbeLimits.MaxCompressionRatio}).";
        if (o.ProbeLimits.MaxTotalPixels < 1) yield return $"{s}:ProbeLimits:MaxTotalPixels must be positive (got {o.ProbeLimits.MaxTotalPixels}).";
        if (o.ProbeLimits.MaxImagePixels < 1) yield return $"{s}:ProbeLimits:MaxImagePixels must be positive (got {o.ProbeLimits.MaxImagePixels}).";
        if (o.Worker.MemoryLimitMiB < 512) yield return $"{s}:Worker:MemoryLimitMiB must be at least 512 (got {o.Worker.MemoryLimitMiB}).";
        if (o.Worker.RunTimeLimit <= TimeSpan.Zero) yield return $"{s}:Worker:RunTimeLimit must be a positive time span such as 02:00:00 (got {o.Worker.RunTimeLimit}).";
        if (o.Worker.ValidationTimeLimit <= TimeSpan.Zero) yield return $"{s}:Worker:ValidationTimeLimit must be a positive time span such as 00:01:00 (got {o.Worker.ValidationTimeLimit}).";
        if (o.Worker.Threads is < 0 or > 1024) yield return $"{s}:Worker:Threads must be between 0 (one per core) and 1024 (got {o.Worker.Threads}).";
        if (!Workers.WorkerDevices.TryParse(o.Worker.Device, out var device))
            yield return $"{s}:Worker:Device must be auto, cpu or cuda (got '{Messages.Untrusted(o.Worker.Device, 40)}').";
        // Only where jobs run: a UI node never measures. The check starts CUDA once, on a GPU build only.
        else if (device == Workers.WorkerDevice.Cuda && o.Role != NodeRole.Ui && Workers.WorkerDevices.CudaProblem() is { } problem)
            yield return $"{s}:Worker:Device is cuda, but {problem}";
        if (o.RateLimits.RunsPerMinute < 1) yield return $"{s}:RateLimits:RunsPerMinute must be positive (got {o.RateLimits.RunsPerMinute}).";
        if (o.RateLimits.ApiRequestsPerMinute < 1) yield return $"{s}:RateLimits:ApiRequestsPerMinute must be positive (got {o.RateLimits.ApiRequestsPerMinute}).";
        if (o.RateLimits.MaxActiveRunsPerUser < 1) yield return $"{s}:RateLimits:MaxActiveRunsPerUser must be positive (got {o.RateLimits.MaxActiveRunsPerUser}).";
        if (o.RateLimits.UploadBytesPerDay < 1) yield return $"{s}:RateLimits:UploadBytesPerDay must be positive (got {o.RateLimits.UploadBytesPerDay}).";
        if (o.RateLimits.UploadsPerMinute < 1) yield return $"{s}:RateLimits:UploadsPerMinute must be positive (got {o.RateLimits.UploadsPerMinute}).";
        if (string.IsNullOrEmpty(o.HangfireDashboard.User) != string.IsNullOrEmpty(o.HangfireDashboard.Password))
            yield return $"{s}:HangfireDashboard:User and {s}:HangfireDashboard:Password must be set together.";
    }
}
