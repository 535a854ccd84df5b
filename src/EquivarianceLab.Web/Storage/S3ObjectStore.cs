using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace EquivarianceLab.Web.Storage;

/// <summary>
/// Objects as keys <c>sha256/abcdef…</c> in one bucket of any S3-compatible store (path-style addressing, so MinIO and
/// other self-hosted servers work without DNS names per bucket). The bucket is created on first use when missing.
/// </summary>
public sealed class S3ObjectStore : IObjectStore, IDisposable
{
    private readonly AmazonS3Client _client;
    private readonly string _bucket;
    private readonly SemaphoreSlim _bucketLock = new(1, 1);
    private volatile bool _bucketReady;

    public S3ObjectStore(S3StoreOptions options)
    {
        _bucket = options.Bucket;
        _partSize = (long)options.PartSizeMiB << 20;
        var config = new AmazonS3Config
        {
            ForcePathStyle = true,
            // Checksums only where the API requires them: self-hosted servers do not all know the newer checksum headers.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (!string.IsNullOrEmpty(options.ServiceUrl))
        {
            config.ServiceURL = options.ServiceUrl;
            config.AuthenticationRegion = options.Region;
        }
        else config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(options.Region);
        _client = string.IsNullOrEmpty(options.AccessKey)
            ? new AmazonS3Client(config)
            : new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config);
    }

    public string Description => $"S3 bucket '{_bucket}'";

    private static string Key(string sha256) => $"sha256/{sha256}";

    public async Task<bool> ExistsAsync(string sha256, CancellationToken ct)
    {
        await EnsureBucketAsync(ct);
        try
        {
            await _client.GetObjectMetadataAsync(_bucket, Key(sha256), ct);
            return true;
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound) { return false; }
    }

    /// <summary>Objects above this go up in parts (so a model of several GiB is neither one request nor one retry).</summary>
    private readonly long _partSize;

    public async Task PutAsync(string sha256, string localFile, CancellationToken ct)
    {
        if (await ExistsAsync(sha256, ct)) return;
        var length = new FileInfo(localFile).Length;
        // Plain (not aws-chunked) bodies: every S3-compatible server reads them, where some store the chunk framing as data.
        if (length <= _partSize)
        {
            await _client.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = Key(sha256), FilePath = localFile, UseChunkEncoding = false }, ct);
            return;
        }
        var upload = await _client.InitiateMultipartUploadAsync(new InitiateMultipartUploadRequest { BucketName = _bucket, Key = Key(sha256) }, ct);
        try
        {
            var parts = new List<PartETag>();
            for (var (number, position) = (1, 0L); position < length; number++, position += _partSize)
            {
                var part = await _client.UploadPartAsync(new UploadPartRequest
                {
                    BucketName = _bucket, Key = Key(sha256), UploadId = upload.UploadId, PartNumber = number,
                    FilePath = localFile, FilePosition = position, PartSize = Math.Min(_partSize, length - position), UseChunkEncoding = false,
                }, ct);
                parts.Add(new PartETag(number, part.ETag));
            }
            await _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _bucket, Key = Key(sha256), UploadId = upload.UploadId, PartETags = parts,
            }, ct);
        }
        catch
        {
            // Best effort: a server that cannot abort keeps the parts until its own clean-up.
            try { await _client.AbortMultipartUploadAsync(_bucket, Key(sha256), upload.UploadId, CancellationToken.None); }
            catch (AmazonS3Exception) { }
            throw;
        }
    }

    public async Task CopyToAsync(string sha256, string destination, CancellationToken ct)
    {
        await EnsureBucketAsync(ct);
        GetObjectResponse response;
        try { response = await _client.GetObjectAsync(_bucket, Key(sha256), ct); }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound) { throw new StoredObjectMissingException(sha256); }
        using (response)
        {
            await using var file = new FileStream(destination, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await response.ResponseStream.CopyToAsync(file, ct);
        }
    }

    public async Task CheckAsync(CancellationToken ct)
    {
        await EnsureBucketAsync(ct);
        var key = $"health/{Guid.NewGuid():N}";
        await _client.PutObjectAsync(new PutObjectRequest { BucketName = _bucket, Key = key, ContentBody = "1", UseChunkEncoding = false }, ct);
        await _client.DeleteObjectAsync(_bucket, key, ct);
    }

    private async Task EnsureBucketAsync(CancellationToken ct)
    {
        if (_bucketReady) return;
        await _bucketLock.WaitAsync(ct);
        try
        {
            if (_bucketReady) return;
            try { await _client.PutBucketAsync(new PutBucketRequest { BucketName = _bucket }, ct); }
            // Another node made it first (409 BucketAlreadyOwnedByYou on AWS, BucketAlreadyExists elsewhere).
            catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.Conflict) { }
            _bucketReady = true;
        }
        finally { _bucketLock.Release(); }
    }

    public void Dispose()
    {
        _client.Dispose();
        _bucketLock.Dispose();
    }
}
