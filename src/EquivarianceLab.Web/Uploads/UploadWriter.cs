using System.Security.Cryptography;
using EquivarianceLab.Web.Api;

namespace EquivarianceLab.Web.Uploads;

/// <summary>Streams an upload to a temporary file under the data folder, hashing as it goes and enforcing the size limit.</summary>
public static class UploadWriter
{
    public sealed record Incoming(string TempPath, string Sha256, long Length);

    public static async Task<Incoming> SaveAsync(Stream source, string incomingFolder, long maxBytes, CancellationToken ct)
    {
        Directory.CreateDirectory(incomingFolder);
        var temp = Path.Combine(incomingFolder, Guid.NewGuid().ToString("N") + ".part");
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long total = 0;
        try
        {
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                var buffer = new byte[1 << 16];
                int read;
                while ((read = await source.ReadAsync(buffer, ct)) > 0)
                {
                    total += read;
                    if (total > maxBytes) throw RequestException.TooLarge($"The upload is larger than the limit of {Format(maxBytes)}.");
                    sha.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), ct);
                }
            }
            if (total == 0) throw new RequestException("The file is empty.");
            return new Incoming(temp, Convert.ToHexStringLower(sha.GetHashAndReset()), total);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    public static void TryDelete(string path)
    {
        try { if (File.Exists(path)) File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    public static string Format(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.##} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.##} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.##} KiB",
        _ => $"{bytes} B",
    };
}
