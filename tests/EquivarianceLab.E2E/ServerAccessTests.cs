using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EquivarianceLab.E2E.Infrastructure;
using Xunit.Abstractions;

namespace EquivarianceLab.E2E;

/// <summary>
/// Access and upload handling on the real Kestrel process (issue 5 items 2 and 4): oversized or invalid requests are
/// refused from their headers before any body is sent; a large upload streams to disk (the server's memory does not
/// grow with it) and a refused one leaves nothing behind; the Hangfire dashboard is local-only, or behind configured
/// credentials; responses carry no Server header and no paths or exception details.
/// </summary>
public sealed class ServerAccessTests(ITestOutputHelper output) : ServerTest("access")
{
    private const long UploadLimit = 256L << 20;

    protected override void AddModels(TestZoo zoo) => zoo.AddTinyCnn("tiny-a", "Tiny CNN A", 71.5, seed: 1);

    protected override IReadOnlyDictionary<string, string> Settings =>
        new Dictionary<string, string> { ["EquivarianceLab:MaxUploadBytes"] = UploadLimit.ToString(CultureInfo.InvariantCulture) };

    [Fact]
    public async Task Oversized_or_invalid_requests_are_refused_from_their_headers_before_the_body_is_sent()
    {
        // Each request sends its headers only and then waits: a server that read the body would never answer.
        var cases = new (string Path, string ContentType, long Length, int Status, string Error)[]
        {
            ("/api/models", "multipart/form-data; boundary=x", 5L << 30, 413, "The upload is larger than the limit of 256 MiB."),
            ("/api/probesets", "multipart/form-data; boundary=x", UploadLimit + (2 << 20), 413, "The upload is larger than the limit of 256 MiB."),
            ("/api/models", "text/plain", 1000, 415, "Send the file as multipart/form-data with a field named 'file'."),
            ("/api/models", "multipart/form-data", 1000, 400, "The multipart request has no boundary."),
            ("/api/runs", "application/json", 10 << 20, 413, "The request body is too large (at most 64 KiB of JSON)."),
            ("/api/runs", "text/plain", 100, 415, "Send the request body as JSON (Content-Type: application/json)."),
            ("/api/models/tiny-a", "application/json", 1 << 20, 413, "The request body is too large (at most 64 KiB of JSON)."),
        };
        foreach (var (path, type, length, expected, error) in cases)
        {
            var method = path == "/api/models/tiny-a" ? "PATCH" : "POST";
            var (status, headers, body) = await HeadersOnlyAsync(method, path, type, length);
            Assert.True(status == expected, $"{method} {path} ({type}, {length} bytes announced): {status} {body}");
            Assert.Equal(error, JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString());
            Assert.DoesNotContain("Server:", headers, StringComparison.OrdinalIgnoreCase);
        }
        Assert.Empty(Directory.GetFiles(Path.Combine(DataFolder, "incoming")));
    }

    [Fact]
    public async Task A_large_upload_streams_to_disk_and_a_refused_one_leaves_nothing()
    {
        var baseline = Server.Memory().Rss;

        // 200 MiB (within the 256 MiB limit), sent chunked, of something that is not a probe set: streamed to disk and
        // hashed as it arrives, then opened by the library and refused. Memory stays flat while it streams.
        var (status, error, peak) = await UploadWatchingMemoryAsync("api/probesets", "huge.npy", 200L << 20);
        output.WriteLine($"200 MiB upload: RSS {baseline >> 20} MiB before, peak {peak >> 20} MiB");
        Assert.Equal(422, status);
        Assert.StartsWith("Not a usable probe set: huge.npy is not a .npy file", error);
        Assert.True(peak - baseline < 96L << 20, $"the server's memory grew by {(peak - baseline) >> 20} MiB during a 200 MiB upload");

        // Over the limit without a Content-Length: cut off at 256 MiB as it streams, the partial file removed.
        (status, error, peak) = await UploadWatchingMemoryAsync("api/models", "huge.onnx", 300L << 20);
        output.WriteLine($"300 MiB upload: peak {peak >> 20} MiB");
        Assert.Equal(413, status);
        Assert.Equal("The upload is larger than the limit of 256 MiB.", error);
        Assert.True(peak - baseline < 96L << 20, $"the server's memory grew by {(peak - baseline) >> 20} MiB during a 300 MiB upload");

        Assert.Empty(DataFolderFiles.StoredUploads(DataFolder));
        Assert.Empty(DataFolderFiles.Partial(DataFolder));
        Assert.Empty(Directory.GetFiles(Path.Combine(DataFolder, "incoming")));
        using var client = Server.CreateClient();
        var models = JsonDocument.Parse(await client.GetStringAsync("api/models")).RootElement;
        Assert.Equal(["tiny-a"], models.EnumerateArray().Select(m => m.GetProperty("id").GetString()));
    }

    [Fact]
    public async Task On_loopback_without_accounts_the_local_user_is_the_admin_of_the_hangfire_dashboard()
    {
        using var client = Server.CreateClient();
        using var local = await client.GetAsync("hangfire");
        Assert.Equal(HttpStatusCode.OK, local.StatusCode);
        Assert.Contains("Hangfire", await local.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task With_credentials_configured_the_hangfire_dashboard_needs_them()
    {
        var data = Repo.NewTempFolder("access-auth");
        try
        {
            await using var server = await LabServer.StartAsync("access-auth", data, Zoo.Folder, new Dictionary<string, string>
            {
                ["EquivarianceLab:Access:RequireAccounts"] = "true",
                ["EquivarianceLab:HangfireDashboard:User"] = "ops",
                ["EquivarianceLab:HangfireDashboard:Password"] = "correct horse",
            });
            using var client = server.CreateClient();
            using var anonymous = await client.GetAsync("hangfire");
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Equal("Basic", anonymous.Headers.WwwAuthenticate.Single().Scheme);
            using var wrong = new HttpRequestMessage(HttpMethod.Get, "hangfire");
            wrong.Headers.Authorization = Basic("ops", "wrong horse");
            Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(wrong)).StatusCode);
            using var right = new HttpRequestMessage(HttpMethod.Get, "hangfire");
            right.Headers.Authorization = Basic("ops", "correct horse");
            Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(right)).StatusCode);
        }
        finally
        {
            Repo.TryDelete(data);
        }
    }

    [Fact]
    public async Task Responses_name_no_server_and_errors_hold_no_paths_or_exception_details()
    {
        using var client = Server.CreateClient();
        foreach (var url in new[] { "", "models", "api/models", "api/runs/424242", "no/such/page", "thumbnails/x/0.png", "hangfire" })
        {
            using var r = await client.GetAsync(url);
            Assert.False(r.Headers.Contains("Server"), $"GET /{url} sends a Server header: {string.Join(",", r.Headers.Server)}");
            Assert.False(r.Headers.Contains("X-Powered-By"), $"GET /{url} sends X-Powered-By");
        }
        var answers = new List<HttpResponseMessage>
        {
            await client.GetAsync("api/runs/424242"),
            await client.GetAsync("api/runs/424242.json"),
            await client.PostAsync("api/runs", new StringContent("{\"modelId\":\"tiny-a\",\"images\":\"many\"}", Encoding.UTF8, "application/json")),
            await client.PostAsync("api/runs", new StringContent("{\"modelId\":", Encoding.UTF8, "application/json")),
            await client.PostAsync("api/models", new MultipartFormDataContent { { new ByteArrayContent("text"u8.ToArray()), "file", "x.onnx" } }),
            await client.PostAsync("api/probesets", new MultipartFormDataContent { { new ByteArrayContent("text"u8.ToArray()), "file", "x.zip" } }),
        };
        foreach (var r in answers)
        {
            var body = await r.Content.ReadAsStringAsync();
            Assert.True((int)r.StatusCode is >= 400 and < 500, $"{r.RequestMessage!.RequestUri}: {r.StatusCode} {body}");
            Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
            Assert.True(JsonDocument.Parse(body).RootElement.TryGetProperty("detail", out _), body);
            LabApi.AssertNoLeak(body, $"the answer to {r.RequestMessage!.Method} {r.RequestMessage.RequestUri}");
            r.Dispose();
        }
        var run = await client.QueueAsync("tiny-a", images: 8);
        var done = await client.WaitForRunAsync(run, TimeSpan.FromMinutes(1));
        LabApi.AssertNoLeak(done.GetRawText(), "a run's JSON");
        LabApi.AssertNoLeak(await client.GetStringAsync($"api/runs/{run}.csv"), "a run's CSV");
    }

    private static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    /// <summary>Sends request headers announcing <paramref name="length"/> body bytes, sends none, and reads the answer.</summary>
    private async Task<(int Status, string Headers, string Body)> HeadersOnlyAsync(string method, string path, string contentType, long length)
    {
        var answer = await RawHttp.SendAsync(Server.BaseUri.Port, method, path,
            $"Content-Type: {contentType}\r\nContent-Length: {length.ToString(CultureInfo.InvariantCulture)}\r\n", writeBody: null, TimeSpan.FromSeconds(15));
        return (answer.Status, answer.Headers, answer.Body);
    }

    /// <summary>Uploads <paramref name="bytes"/> generated bytes (chunked, no Content-Length) while sampling the server's resident memory.</summary>
    private async Task<(int Status, string Error, long PeakRss)> UploadWatchingMemoryAsync(string url, string fileName, long bytes)
    {
        long peak = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, Server.Memory().Rss);
                try { await Task.Delay(20, stop.Token); } catch (OperationCanceledException) { }
            }
        });
        RawHttp.Answer answer;
        try
        {
            answer = await RawHttp.UploadChunkedAsync(Server.BaseUri.Port, "/" + url, fileName, bytes, TimeSpan.FromMinutes(3));
        }
        finally
        {
            await stop.CancelAsync();
            await sampler;
        }
        return (answer.Status, JsonDocument.Parse(answer.Body).RootElement.GetProperty("detail").GetString()!, peak);
    }
}
