using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Tests.Fakes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>The HTTP API against the real app: SQLite files, migrations at start, a real Hangfire server; the library faked.</summary>
public sealed class ApiTests : IAsyncLifetime
{
    // A minimal stand-in for an ONNX file: the fake runner accepts anything starting with a ModelProto field 1 tag.

    private readonly string _data = LabFactory.NewFolder("api");
    private readonly string _zoo = LabFactory.ZooWithFashionMnist();
    private readonly FakeMeasurementRunner _runner = new();
    private LabFactory _factory = null!;
    private HttpClient _client = null!;

    public Task InitializeAsync()
    {
        LabFactory.AddZooModel(_zoo, "control-a", "Control A", 81.5, FakeLab.FakeOnnx);
        LabFactory.AddZooModel(_zoo, "control-b", "Control B", 92.0, FakeLab.FakeOnnx);
        _factory = new LabFactory(_data, _zoo, _runner);
        _client = _factory.CreateClient();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _factory.DisposeAsync();
        LabFactory.TryDelete(_data, _zoo);
    }

    private async Task<JsonElement> PollUntilFinishedAsync(int id, TimeSpan? timeout = null)
    {
        var until = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var run = await _client.GetFromJsonAsync<JsonElement>($"/api/runs/{id}");
            var status = run.GetProperty("status").GetString();
            if (status is "done" or "failed" or "cancelled") return run;
            if (DateTime.UtcNow > until) throw new TimeoutException($"Run {id} still {status}.");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task Lists_zoo_models_and_the_built_in_probe_set_registered_at_start()
    {
        var models = await _client.GetFromJsonAsync<JsonElement>("/api/models");
        Assert.Equal(["control-a", "control-b"], models.EnumerateArray().Select(m => m.GetProperty("id").GetString()).Order());
        Assert.All(models.EnumerateArray(), m => Assert.False(m.TryGetProperty("filePath", out _)));
        var probes = await _client.GetFromJsonAsync<JsonElement>("/api/probesets");
        var fm = Assert.Single(probes.EnumerateArray());
        Assert.Equal("fashion-mnist-test", fm.GetProperty("id").GetString());
        Assert.Equal("Fashion-MNIST test (10k)", fm.GetProperty("name").GetString());
        Assert.Equal(10000, fm.GetProperty("count").GetInt32());
        Assert.True(File.Exists(Path.Combine(_data, "equivariancelab.db")));
        Assert.True(File.Exists(Path.Combine(_data, "hangfire.db")));
        var thumb = await _client.GetAsync("/thumbnails/fashion-mnist-test/0.png");
        Assert.Equal("image/png", thumb.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Queues_a_run_through_the_api_and_reads_the_stored_result_and_csv()
    {
        var created = await _client.PostAsJsonAsync("/api/runs", new { modelId = "control-a", probeSetId = "fashion-mnist-test", transform = "translation", similarity = "pearson", images = 64, maxShift = 3 });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();

        var run = await PollUntilFinishedAsync(id);

        Assert.Equal("done", run.GetProperty("status").GetString());
        Assert.Equal(1.0, run.GetProperty("progress").GetDouble());
        Assert.Equal(JsonValueKind.Null, run.GetProperty("error").ValueKind);
        var result = run.GetProperty("result");
        Assert.Equal("translation", result.GetProperty("transform").GetString());
        Assert.Equal(8, result.GetProperty("layers").GetArrayLength());
        Assert.Equal(["shift1", "shift2", "shift3"], result.GetProperty("layers")[0].GetProperty("perTransform").EnumerateObject().Select(p => p.Name));

        // Per-layer and per-transform scores are rows in the app database too.
        await using (var scope = _factory.Services.CreateAsyncScope())
        {
            await using var db = await scope.ServiceProvider.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync();
            Assert.Equal(8, await db.LayerScores.CountAsync(l => l.RunId == id));
            Assert.Equal(24, await db.TransformScores.CountAsync());
            Assert.Equal(5, await db.PartScores.CountAsync(p => p.RunId == id));
        }

        var csv = await _client.GetAsync($"/api/runs/{id}.csv");
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync()).TrimEnd().Split('\n');
        Assert.StartsWith("run,model,probe,transform_family", lines[0]);
        Assert.Equal(1 + 5 + 8 * (1 + 3), lines.Length);
        var json = await _client.GetStringAsync($"/api/runs/{id}.json");
        Assert.Equal(result.GetProperty("model").GetString(), JsonDocument.Parse(json).RootElement.GetProperty("model").GetString());
    }

    [Fact]
    public async Task Bad_requests_get_problem_details_with_the_status_that_says_what_is_wrong()
    {
        async Task<JsonElement> ProblemOf(HttpResponseMessage r, HttpStatusCode status)
        {
            Assert.Equal(status, r.StatusCode);
            Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
            var problem = await r.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
            return problem;
        }
        async Task<string> DetailOf(HttpResponseMessage r, HttpStatusCode status) => (await ProblemOf(r, status)).GetProperty("detail").GetString()!;

        var unknownModel = await ProblemOf(await _client.PostAsJsonAsync("/api/runs", new { modelId = "nope" }), HttpStatusCode.NotFound);
        Assert.Equal("No model with id 'nope'.", unknownModel.GetProperty("detail").GetString());
        Assert.True(unknownModel.GetProperty("errors").TryGetProperty("modelId", out _));
        // A wrong field is a validation problem that names the field.
        var transform = await ProblemOf(await _client.PostAsJsonAsync("/api/runs", new { modelId = "control-a", transform = "scale" }), HttpStatusCode.BadRequest);
        Assert.Contains("Unknown transform", transform.GetProperty("detail").GetString());
        Assert.Contains("Unknown transform", transform.GetProperty("errors").GetProperty("transform")[0].GetString());
        var images = await ProblemOf(await _client.PostAsJsonAsync("/api/runs", new { modelId = "control-a", images = 0 }), HttpStatusCode.BadRequest);
        Assert.True(images.GetProperty("errors").TryGetProperty("images", out _));
        Assert.Contains("not valid JSON", await DetailOf(await _client.PostAsync("/api/runs", new StringContent("{", System.Text.Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest));
        Assert.Contains("as JSON", await DetailOf(await _client.PostAsync("/api/runs", new StringContent("<run/>", System.Text.Encoding.UTF8, "application/xml")), HttpStatusCode.UnsupportedMediaType));
        Assert.Contains("multipart", await DetailOf(await _client.PostAsync("/api/models", new StringContent("x")), HttpStatusCode.UnsupportedMediaType));
        using var noArch = new MultipartFormDataContent { { new ByteArrayContent(FakeLab.FakeOnnx), "file", "weights.pt" } };
        Assert.Contains("architecture", await DetailOf(await _client.PostAsync("/api/models", noArch), HttpStatusCode.BadRequest));
        using var wrongExt = new MultipartFormDataContent { { new ByteArrayContent(FakeLab.FakeOnnx), "file", "model.exe" } };
        Assert.Contains("Unsupported", await DetailOf(await _client.PostAsync("/api/models", wrongExt), HttpStatusCode.BadRequest));
        Assert.Equal("No run 987654.", await DetailOf(await _client.GetAsync("/api/runs/987654"), HttpStatusCode.NotFound));
        Assert.Equal("No run 987654.", await DetailOf(await _client.PostAsync("/api/runs/987654/cancel", null), HttpStatusCode.NotFound));
        Assert.Equal("No model with id 'nope'.", await DetailOf(await _client.GetAsync("/api/models/nope"), HttpStatusCode.NotFound));
        Assert.Contains("pageSize", await DetailOf(await _client.GetAsync("/api/runs?pageSize=0"), HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Uploads_a_model_by_content_hash_and_refuses_a_corrupt_one()
    {
        using var good = new MultipartFormDataContent
        {
            { new StringContent("My upload"), "name" },
            { new StringContent("77.5"), "accuracy" },
            { new ByteArrayContent(FakeLab.FakeOnnx), "file", "mine.onnx" },
        };
        var created = await _client.PostAsync("/api/models", good);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var model = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.StartsWith("upload-", model.GetProperty("id").GetString());
        Assert.Equal("My upload", model.GetProperty("name").GetString());
        Assert.Equal(77.5, model.GetProperty("accuracy").GetDouble());
        Assert.Equal("1×28×28", model.GetProperty("inputShape").GetString());
        var stored = DataFolderFiles.StoredUploads(_data, ".onnx");
        Assert.Equal(DataFolderFiles.Sha256(FakeLab.FakeOnnx) + ".onnx", Assert.Single(stored)); // kept by content

        using var corrupt = new MultipartFormDataContent { { new ByteArrayContent("this is not a model"u8.ToArray()), "file", "broken.onnx" } };
        var refused = await _client.PostAsync("/api/models", corrupt);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        var error = (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString();
        Assert.Equal("Not a usable model: broken.onnx is not an ONNX model (no ModelProto header).", error);
        Assert.Single(DataFolderFiles.StoredUploads(_data, ".onnx"));
        Assert.Empty(DataFolderFiles.Partial(_data));
        Assert.Empty(Directory.GetFiles(Path.Combine(_data, "incoming")));
        Assert.Equal(3, (await _client.GetFromJsonAsync<JsonElement>("/api/models")).GetArrayLength());
    }

    [Fact]
    public async Task Refuses_an_upload_over_the_limit_without_keeping_anything()
    {
        using var big = new MultipartFormDataContent { { new ByteArrayContent(new byte[5 << 20]), "file", "big.onnx" } };
        var r = await _client.PostAsync("/api/models", big);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, r.StatusCode);
        Assert.Contains("limit", (await r.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        Assert.Empty(Directory.GetFiles(Path.Combine(_data, "incoming")));
    }

    [Fact]
    public async Task A_failing_job_ends_failed_with_its_message_and_the_worker_goes_on()
    {
        _runner.FailFor = id => id == "control-b" ? new EquivarianceLabException("Probe images are 1×28×28 but the model wants 3×224×224.") : null;
        var bad = (await (await _client.PostAsJsonAsync("/api/runs", new { modelId = "control-b", images = 32 })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
        var good = (await (await _client.PostAsJsonAsync("/api/runs", new { modelId = "control-a", images = 32 })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();

        var failed = await PollUntilFinishedAsync(bad);
        Assert.Equal("failed", failed.GetProperty("status").GetString());
        Assert.Equal("Probe images are 1×28×28 but the model wants 3×224×224.", failed.GetProperty("error").GetString());
        Assert.Equal("done", (await PollUntilFinishedAsync(good)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Cancels_a_running_job()
    {
        _runner.BatchDelay = TimeSpan.FromMilliseconds(200);
        var id = (await (await _client.PostAsJsonAsync("/api/runs", new { modelId = "control-a", images = 3200 })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
        var until = DateTime.UtcNow.AddSeconds(30);
        while ((await _client.GetFromJsonAsync<JsonElement>($"/api/runs/{id}")).GetProperty("status").GetString() != "running")
        {
            Assert.True(DateTime.UtcNow < until, "the run never started");
            await Task.Delay(100);
        }
        Assert.Equal(HttpStatusCode.Accepted, (await _client.PostAsync($"/api/runs/{id}/cancel", null)).StatusCode);
        Assert.Equal("cancelled", (await PollUntilFinishedAsync(id)).GetProperty("status").GetString());

        var rerun = await _client.PostAsync($"/api/runs/{id}/rerun", null);
        Assert.Equal(HttpStatusCode.Created, rerun.StatusCode);
    }
}
