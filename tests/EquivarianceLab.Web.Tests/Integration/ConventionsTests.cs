using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.Web.Tests.Fakes;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// ASP.NET Core's conventions on the real app: an OpenAPI document of every endpoint and its interactive reference,
/// paged and filtered run lists, health endpoints that name a failing check, and settings checked at start.
/// </summary>
public sealed class ConventionsTests : IAsyncLifetime
{
    private readonly string _data = LabFactory.NewFolder("conventions");
    private readonly string _zoo = LabFactory.ZooWithFashionMnist();
    private LabFactory _factory = null!;
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        LabFactory.AddZooModel(_zoo, "control-a", "Control A", 81.5, FakeLab.FakeOnnx);
        LabFactory.AddZooModel(_zoo, "control-b", "Control B", 92.0, FakeLab.FakeOnnx);
        _factory = new LabFactory(_data, _zoo, new FakeMeasurementRunner());
        _client = _factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
        LabFactory.TryDelete(_data, _zoo);
    }

    [Fact]
    public async Task The_openapi_document_describes_every_api_endpoint_with_its_types_and_scalar_serves_it()
    {
        var doc = await _client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var paths = doc.GetProperty("paths");
        foreach (var path in new[] { "/api/models", "/api/models/{id}", "/api/models/{id}/layers", "/api/probesets", "/api/runs", "/api/runs/{id}", "/api/runs/{id}/cancel", "/api/correlation" })
            Assert.True(paths.TryGetProperty(path, out _), $"the OpenAPI document lacks {path}");
        // Responses and bodies have schemas, and the schemas have the DTOs' fields.
        var schemas = doc.GetProperty("components").GetProperty("schemas");
        Assert.True(schemas.GetProperty("RunDto").GetProperty("properties").TryGetProperty("status", out _));
        Assert.True(schemas.GetProperty("ModelDto").GetProperty("properties").TryGetProperty("inputShape", out _));
        Assert.True(schemas.GetProperty("LayerInfo").GetProperty("properties").TryGetProperty("default", out _));
        var getRun = paths.GetProperty("/api/runs/{id}").GetProperty("get").GetProperty("responses");
        Assert.True(getRun.TryGetProperty("200", out _));
        Assert.True(getRun.TryGetProperty("404", out _));
        var queue = paths.GetProperty("/api/runs").GetProperty("post").GetProperty("requestBody").GetProperty("content").GetProperty("application/json");
        Assert.Contains("modelId", queue.GetRawText());
        var upload = paths.GetProperty("/api/models").GetProperty("post").GetProperty("requestBody").GetProperty("content");
        Assert.True(upload.TryGetProperty("multipart/form-data", out _));

        var page = await _client.GetAsync("/scalar/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("openapi/v1.json", html);
        Assert.DoesNotContain("https://", html); // the reference's script comes from the server itself
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/scalar/scalar.js")).StatusCode);
    }

    [Fact]
    public async Task Runs_are_listed_in_pages_with_their_total_and_filtered_by_model_and_status()
    {
        var ids = new List<int>();
        foreach (var model in new[] { "control-a", "control-b", "control-b" })
        {
            var created = await _client.PostAsJsonAsync("/api/runs", new { modelId = model, images = 8 });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            ids.Add((await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32());
        }

        var first = await _client.GetAsync("/api/runs?page=1&pageSize=2");
        Assert.Equal("3", first.Headers.GetValues("X-Total-Count").Single());
        Assert.Contains("page=2", first.Headers.GetValues("Link").Single());
        var firstPage = await first.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal([ids[2], ids[1]], firstPage.EnumerateArray().Select(r => r.GetProperty("id").GetInt32()));
        var second = await _client.GetAsync("/api/runs?page=2&pageSize=2");
        Assert.Equal([ids[0]], (await second.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().Select(r => r.GetProperty("id").GetInt32()));
        Assert.False(second.Headers.Contains("Link"));

        var b = await _client.GetAsync("/api/runs?model=control-b");
        Assert.Equal("2", b.Headers.GetValues("X-Total-Count").Single());
        Assert.All((await b.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray(), r => Assert.Equal("control-b", r.GetProperty("modelId").GetString()));
        var none = await _client.GetAsync("/api/runs?transform=flip");
        Assert.Equal("0", none.Headers.GetValues("X-Total-Count").Single());
        var badStatus = await _client.GetAsync("/api/runs?status=sleeping");
        Assert.Equal(HttpStatusCode.BadRequest, badStatus.StatusCode);
        Assert.True((await badStatus.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("status", out _));
    }

    [Fact]
    public async Task Health_is_200_when_every_check_passes_and_503_naming_the_data_folder_when_it_cannot_be_written()
    {
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/health/live")).StatusCode);
        var ready = await _client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var checks = (await ready.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("checks").EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("status").GetString());
        Assert.Equal(new Dictionary<string, string?> { ["database"] = "Healthy", ["hangfire-storage"] = "Healthy", ["data-folder"] = "Healthy", ["store"] = "Healthy" }, checks);

        // Root ignores permissions, so the folder uploads land in is replaced by a file: nothing can be written there.
        var incoming = Path.Combine(_data, "incoming");
        Directory.Delete(incoming, recursive: true);
        await File.WriteAllTextAsync(incoming, "not a folder");
        try
        {
            var broken = await _client.GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, broken.StatusCode);
            var body = await broken.Content.ReadAsStringAsync();
            var failing = JsonDocument.Parse(body).RootElement.GetProperty("checks").EnumerateArray()
                .Where(c => c.GetProperty("status").GetString() == "Unhealthy").Select(c => c.GetProperty("name").GetString()).ToList();
            Assert.Equal(["data-folder"], failing);
            Assert.DoesNotContain(_data, body); // the setting's name, never the server's path
            Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/health/live")).StatusCode);
        }
        finally
        {
            File.Delete(incoming);
            Directory.CreateDirectory(incoming);
        }
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public void Wrong_settings_are_each_named_by_their_key()
    {
        var options = new LabOptions { Database = "Oracle", ConcurrentRuns = 0, MaxRestarts = -1 };
        options.HangfireDashboard.User = "ops";
        var result = new LabOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Equal(
        [
            "EquivarianceLab:Database must be Sqlite or PostgreSql (got 'Oracle').",
            "EquivarianceLab:MaxRestarts must be 0 or more (got -1).",
            "EquivarianceLab:ConcurrentRuns must be between 1 and 64 (got 0).",
            "EquivarianceLab:HangfireDashboard:User and EquivarianceLab:HangfireDashboard:Password must be set together.",
        ], result.Failures);
        Assert.True(new LabOptionsValidator().Validate(null, new LabOptions()).Succeeded);
    }

    [Fact]
    public async Task The_real_server_process_with_a_wrong_setting_exits_with_one_line_and_no_stack_trace()
    {
        var (exitCode, errors, output) = await ServerExit.WithSettingAsync("bad-process", "EquivarianceLab__MaxUploadBytes", "-5");
        Assert.Equal(2, exitCode);
        var lines = errors.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["equivariancelab: EquivarianceLab:MaxUploadBytes must be a positive number of bytes (got -5)."], lines);
        Assert.DoesNotContain("   at ", output + errors);
    }
}
