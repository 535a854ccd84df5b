using System.Net;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using EquivarianceLab.E2E.Infrastructure;

namespace EquivarianceLab.E2E;

/// <summary>
/// The tests' own S3 server (s3rver) answers the AWS SDK for .NET with the client settings of <see cref="NewClient"/>:
/// a bucket, an object written, listed, read back byte for byte, deleted, and the errors S3 gives for a missing key
/// and a bucket made twice. A chunked upload, the SDK's default that s3rver cannot decode, is refused, not stored.
/// </summary>
public sealed class S3ServerTests(S3Server s3) : IClassFixture<S3Server>
{
    /// <summary>
    /// A client for <paramref name="server"/>. Uploads must also set <c>UseChunkEncoding = false</c> on each
    /// PutObjectRequest and UploadPartRequest (the default, true, sends aws-chunked bodies, which the server refuses).
    /// </summary>
    public static AmazonS3Client NewClient(S3Server server) =>
        new(new BasicAWSCredentials(server.AccessKey, server.SecretKey), new AmazonS3Config
        {
            ServiceURL = server.ServiceUrl,
            // Buckets in the path: virtual-host style would ask DNS for <bucket>.localhost when the URL names localhost.
            ForcePathStyle = true,
            // The region requests are signed for: s3rver does not check it; a fixed one keeps AWS_REGION and profiles out.
            AuthenticationRegion = "us-east-1",
            // Checksums only where S3 demands them: s3rver ignores checksum headers and returns none to validate, and by
            // default a chunked upload would also carry a trailing CRC32 that s3rver cannot strip.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        });

    [Fact]
    public async Task An_object_is_written_listed_read_back_byte_for_byte_and_deleted_and_missing_keys_are_404()
    {
        using var client = NewClient(s3);
        var bucket = s3.NewBucketName("round-trip");
        await client.PutBucketAsync(new PutBucketRequest { BucketName = bucket });
        var again = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => client.PutBucketAsync(new PutBucketRequest { BucketName = bucket }));
        Assert.Equal((HttpStatusCode.Conflict, "BucketAlreadyExists"), (again.StatusCode, again.ErrorCode));

        var body = RandomNumberGenerator.GetBytes(300_000);
        const string key = "runs/1/model weights ü.bin";
        var put = await client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = bucket, Key = key, InputStream = new MemoryStream(body), UseChunkEncoding = false,
        });
        var md5 = $"\"{Convert.ToHexStringLower(MD5.HashData(body))}\"";
        Assert.Equal(md5, put.ETag);

        var head = await client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = key });
        Assert.Equal((body.Length, md5), (head.ContentLength, head.ETag));

        var listed = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket, Prefix = "runs/" });
        var only = Assert.Single(listed.S3Objects ?? []);
        Assert.Equal((key, (long?)body.Length), (only.Key, only.Size));

        using (var get = await client.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = key }))
        {
            using var read = new MemoryStream();
            await get.ResponseStream.CopyToAsync(read);
            Assert.Equal(SHA256.HashData(body), SHA256.HashData(read.ToArray()));
        }

        var headMissing = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() =>
            client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = "runs/none" }));
        Assert.Equal((HttpStatusCode.NotFound, "NotFound"), (headMissing.StatusCode, headMissing.ErrorCode));
        var getMissing = await Assert.ThrowsAsync<NoSuchKeyException>(() =>
            client.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = "runs/none" }));
        Assert.Equal((HttpStatusCode.NotFound, "NoSuchKey"), (getMissing.StatusCode, getMissing.ErrorCode));

        await client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = bucket, Key = key });
        var deleted = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() =>
            client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = bucket, Key = key }));
        Assert.Equal(HttpStatusCode.NotFound, deleted.StatusCode);
    }

    [Fact]
    public async Task A_chunked_upload_is_refused_instead_of_being_stored_with_its_chunk_framing()
    {
        using var client = NewClient(s3);
        var bucket = s3.NewBucketName("chunked");
        await client.PutBucketAsync(new PutBucketRequest { BucketName = bucket });

        var refused = await Assert.ThrowsAnyAsync<AmazonS3Exception>(() => client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = bucket, Key = "chunked.bin", InputStream = new MemoryStream(new byte[1000]),
        }));

        Assert.Equal((HttpStatusCode.NotImplemented, "NotImplemented"), (refused.StatusCode, refused.ErrorCode));
        var listed = await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = bucket });
        Assert.Empty(listed.S3Objects ?? []);
    }
}
