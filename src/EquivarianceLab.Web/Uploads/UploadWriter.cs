using System.Security.Cryptography;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Storage;

namespace EquivarianceLab.Web.Uploads;

/// <summary>Streams an upload to a temporary file under the data folder, hashing as it goes and enforcing the size limit.</summary>
public static class UploadWriter
{
    public sealed record Incoming(string TempPath, string Sha256, long Length);

    public static async Task<Incoming> SaveAsync(Stream source, string incomingFolder, long maxBytes, CancellationToken ct)
    {
        var temp = Path.Combine(incomingFolder, PartName());
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long total = 0;
        FileStream? file = null;
        try
        {
            // Only the writes are storage faults; a read error is the client's connection and keeps its own meaning.
            file = Storage(() =>
            {
                Directory.CreateDirectory(incomingFolder);
                return new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            });
            var buffer = new byte[1 << 16];
            int read;
            while ((read = await source.ReadAsync(buffer, ct)) > 0)
            {
                total += read;
                if (total > maxBytes) throw RequestException.TooLarge($"The upload is larger than the limit of {Format(maxBytes)}.");
                sha.AppendData(buffer, 0, read);
                try { await file.WriteAsync(buffer.AsMemory(0, read), ct); }
                catch (IOException e) { throw StorageProblem(e); }
            }
            try { await file.DisposeAsync(); }
            catch (IOException e) { throw StorageProblem(e); }
            file = null;
            if (total == 0) throw new RequestException("The file is empty.");
            return new Incoming(temp, Convert.ToHexStringLower(sha.GetHashAndReset()), total);
        }
        catch
        {
            if (file is not null) await DisposeQuietlyAsync(file);
            LocalFiles.TryDelete(temp);
            throw;
        }
    }

    /// <summary>Runs a storage step of an upload; a failure of the disk or the store becomes a 507 or 503 that names no path.</summary>
    public static T Storage<T>(Func<T> action)
    {
        try { return action(); }
        catch (IOException e) { throw StorageProblem(e); }
        catch (UnauthorizedAccessException e) { throw StorageProblem(e); }
    }

    /// <summary>As <see cref="Storage{T}"/>, for the store's own calls (an object store answers with its SDK's exceptions).</summary>
    public static async Task StorageAsync(Func<Task> action) => await StorageAsync(async () => { await action(); return true; });

    public static async Task<T> StorageAsync<T>(Func<Task<T>> action)
    {
        try { return await action(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Amazon.Runtime.AmazonServiceException
                                      or Amazon.Runtime.AmazonClientException or HttpRequestException)
        {
            throw StorageProblem(e);
        }
    }

    private static async Task DisposeQuietlyAsync(FileStream file)
    {
        try { await file.DisposeAsync(); } catch (IOException) { /* the write already failed; the file goes */ }
    }

    /// <summary>A partial upload is named by its writer (machine and process), so a later start knows whose it was.</summary>
    private static string PartName() => $"{Environment.MachineName}.{Environment.ProcessId}.{Guid.NewGuid():N}.part";

    /// <summary>
    /// At start: removes the partial uploads a crash or a killed process left behind — every one this machine's
    /// processes wrote that no longer run, and any other older than <paramref name="othersAfter"/> (a data folder may be
    /// shared by several machines; theirs may still be arriving).
    /// </summary>
    public static int RemoveAbandoned(string incomingFolder, TimeSpan othersAfter, DateTime nowUtc)
    {
        if (!Directory.Exists(incomingFolder)) return 0;
        var removed = 0;
        foreach (var part in Directory.EnumerateFiles(incomingFolder, "*.part"))
        {
            var name = Path.GetFileNameWithoutExtension(part).Split('.');
            var ours = name.Length >= 3 && string.Join('.', name[..^2]) == Environment.MachineName
                       && int.TryParse(name[^2], out var pid) && (pid == Environment.ProcessId || !IsRunning(pid));
            if ((ours || nowUtc - File.GetLastWriteTimeUtc(part) >= othersAfter) && LocalFiles.TryDelete(part)) removed++;
        }
        return removed;
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    // ENOSPC (28) and EDQUOT (122): the disk or the user's quota is full.
    private static bool IsDiskFull(Exception e) => (e.HResult & 0xFFFF) is 28 or 122 || e.Message.Contains("No space left", StringComparison.OrdinalIgnoreCase);

    /// <summary>What a user is told about a storage failure: what happened, never where.</summary>
    private static RequestException StorageProblem(Exception e) => IsDiskFull(e)
        ? new RequestException("The server has no room to store the upload (its disk is full). Nothing was kept; tell the administrator.", StatusCodes.Status507InsufficientStorage)
        : new RequestException("The server could not store the upload (a storage error). Nothing was kept; try again later.", StatusCodes.Status503ServiceUnavailable);

    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.##} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.##} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.##} KiB",
        _ => $"{bytes} B",
    };
}
