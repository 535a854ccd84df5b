using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// A careless or hostile client against the real app: races between identical uploads, huge forms, huge ids, bursts
/// of requests, and what a crash mid-upload leaves. No 5xx, nothing kept twice, nothing echoed at length.
/// </summary>
public sealed class AbuseTests
{
    [Fact]
    public Task Six_identical_uploads_at_once_store_one_file_and_all_get_the_same_model() => WithLabAsync(async (data, factory, client) =>
    {
        var onnx = Onnx.TinyCnn(seed: 11);
        var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
        {
            using var form = new MultipartFormDataContent { { new ByteArrayContent(onnx), "file", "same.onnx" } };
            var r = await client.PostAsync("/api/models", form);
            return (r.StatusCode, Body: await r.Content.ReadAsStringAsync());
        }));
        Assert.All(responses, r => Assert.True(r.StatusCode == HttpStatusCode.Created, $"{r.StatusCode}: {r.Body}"));
        var ids = responses.Select(r => JsonDocument.Parse(r.Body).RootElement.GetProperty("id").GetString()).Distinct().ToList();
        Assert.Single(ids);
        Assert.Single(DataFolderFiles.StoredUploads(data, ".onnx"));
        Assert.Empty(DataFolderFiles.Partial(data));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(data, "incoming")));
    });

    [Fact]
    public Task A_form_of_480000_fields_is_refused_quickly_and_nothing_is_kept() => WithLabAsync(async (data, factory, client) =>
    {
        const string boundary = "b0undary";
        var body = new StringBuilder();
        for (var i = 0; i < 480_000; i++) body.Append("--").Append(boundary).Append("\r\nContent-Disposition: form-data; name=\"f").Append(i).Append("\"\r\n\r\nx\r\n");
        body.Append("--").Append(boundary).Append("--\r\n");
        using var content = new ByteArrayContent(Encoding.ASCII.GetBytes(body.ToString()));
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={boundary}");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var response = await client.PostAsync("/api/models", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Too many form fields", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.Empty((await client.GetFromJsonAsync<JsonElement>("/api/models")).EnumerateArray());
    }, settings: new Dictionary<string, string> { ["EquivarianceLab:MaxUploadBytes"] = (64 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture) });

    [Fact]
    public Task A_huge_id_is_answered_without_being_echoed_and_a_long_name_is_refused() => WithLabAsync(async (data, factory, client) =>
    {
        var id = new string('a', 60_000);
        var run = await client.PostAsJsonAsync("/api/runs", new { modelId = id });
        Assert.Equal(HttpStatusCode.NotFound, run.StatusCode);
        var text = await run.Content.ReadAsStringAsync();
        Assert.True(text.Length < 2_000, $"the answer is {text.Length} characters long");

        using var form = new MultipartFormDataContent { { new StringContent(new string('n', 121)), "name" }, { new ByteArrayContent(Onnx.TinyCnn()), "file", "tiny.onnx" } };
        var upload = await client.PostAsync("/api/models", form);
        Assert.Equal(HttpStatusCode.BadRequest, upload.StatusCode);
        Assert.Contains("name must be at most 120 characters", await upload.Content.ReadAsStringAsync());
        Assert.Empty(DataFolderFiles.StoredUploads(data));
    });

    [Fact]
    public Task A_burst_of_run_requests_is_limited_per_client_with_429_and_retry_after() => WithLabAsync(async (data, factory, client) =>
    {
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 20; i++)
        {
            var r = await client.PostAsJsonAsync("/api/runs", new { modelId = "nope" });
            statuses.Add(r.StatusCode);
            if (r.StatusCode == HttpStatusCode.TooManyRequests) limited ??= r;
        }
        Assert.Equal(5, statuses.Count(s => s == HttpStatusCode.NotFound));
        Assert.Equal(15, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.NotNull(limited);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        Assert.True(limited.Headers.RetryAfter is not null);
        // Reading is not limited.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/runs")).StatusCode);
    }, settings: new Dictionary<string, string>
        {
            ["EquivarianceLab:RateLimits:RunsPerMinute"] = "5",
            ["EquivarianceLab:Role"] = "Ui",
        });

    [Fact]
    public Task A_shift_beyond_half_the_input_is_refused_naming_the_largest_allowed() => WithLabAsync(async (data, factory, client) =>
    {
        var tooFar = await client.PostAsJsonAsync("/api/runs", new { modelId = "control-tiny", transform = "translation", maxShift = 512 });
        Assert.Equal(HttpStatusCode.BadRequest, tooFar.StatusCode);
        var problem = await tooFar.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("at most 14 for this model's 28×28 input", problem.GetProperty("errors").GetProperty("maxShift")[0].GetString());
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/runs", new { modelId = "control-tiny", transform = "translation", maxShift = 14 })).StatusCode);
        // Without a shift the default (16) is lowered to a quarter of the input's side.
        var created = await client.PostAsJsonAsync("/api/runs", new { modelId = "control-tiny", transform = "translation" });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
        Assert.Equal(7, (await client.GetFromJsonAsync<JsonElement>($"/api/runs/{id}")).GetProperty("maxShift").GetInt32());
    }, settings: new Dictionary<string, string> { ["EquivarianceLab:Role"] = "Ui" }, tinyModel: true);

    [Fact]
    public Task A_probe_set_whose_images_do_not_fit_the_model_is_refused_at_submission_naming_both_shapes() => WithLabAsync(async (data, factory, client) =>
    {
        var npy = Path.Combine(data, "small.npy");
        EquivarianceLab.Tests.Probes.NpyTestFiles.WriteRaw(npy, 1, EquivarianceLab.Tests.Probes.NpyTestFiles.Dict("(2, 3, 8, 8)"), new float[2 * 3 * 8 * 8]);
        using var form = new MultipartFormDataContent { { new StringContent("Small colour"), "name" }, { new ByteArrayContent(File.ReadAllBytes(npy)), "file", "small.npy" } };
        var upload = await client.PostAsync("/api/probesets", form);
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        var probe = (await upload.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();

        var run = await client.PostAsJsonAsync("/api/runs", new { modelId = "control-tiny", probeSetId = probe });
        Assert.Equal(HttpStatusCode.BadRequest, run.StatusCode);
        Assert.Contains("Probe set 'Small colour' holds 3×8×8 images, but model 'Tiny control CNN' takes 1×28×28.", await run.Content.ReadAsStringAsync());
    }, settings: new Dictionary<string, string> { ["EquivarianceLab:Role"] = "Ui" }, tinyModel: true);

    [Fact]
    public async Task Partial_uploads_of_dead_processes_are_removed_at_start_and_live_ones_kept()
    {
        var data = LabFactory.NewFolder("abuse");
        var zoo = LabFactory.ZooWithFashionMnist();
        try
        {
            var incoming = Directory.CreateDirectory(Path.Combine(data, "incoming")).FullName;
            // A process that no longer exists on this machine, an old one of another machine, and a fresh one of another machine.
            var dead = Path.Combine(incoming, $"{Environment.MachineName}.{DeadPid()}.{Guid.NewGuid():N}.part");
            var oldOther = Path.Combine(incoming, $"elsewhere.42.{Guid.NewGuid():N}.part");
            var freshOther = Path.Combine(incoming, $"elsewhere.43.{Guid.NewGuid():N}.part");
            foreach (var f in new[] { dead, oldOther, freshOther }) File.WriteAllBytes(f, new byte[1024]);
            File.SetLastWriteTimeUtc(oldOther, DateTime.UtcNow.AddDays(-2));

            await using var factory = new LabFactory(data, zoo);
            using var client = factory.CreateClient();
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/models")).StatusCode);
            Assert.False(File.Exists(dead));
            Assert.False(File.Exists(oldOther));
            Assert.True(File.Exists(freshOther));
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    [Fact]
    public async Task A_full_disk_answers_507_without_a_path_and_keeps_nothing()
    {
        var data = LabFactory.NewFolder("abuse");
        var zoo = LabFactory.ZooWithFashionMnist();
        var incoming = Directory.CreateDirectory(Path.Combine(data, "incoming")).FullName;
        // A real full disk: a 1 MiB tmpfs where uploads arrive (CI runs as root, as this machine does).
        Run("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", incoming);
        try
        {
            await using var factory = new LabFactory(data, zoo);
            using var client = factory.CreateClient();
            using var form = new MultipartFormDataContent { { new ByteArrayContent(new byte[3 << 20]), "file", "big.onnx" } };
            var response = await client.PostAsync("/api/models", form);
            var text = await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.InsufficientStorage, response.StatusCode);
            Assert.Contains("disk is full", text);
            Leaks.AssertNone(text, "the answer to a full disk");
            Assert.Empty(Directory.EnumerateFiles(incoming));
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/models")).StatusCode);
        }
        finally
        {
            Run("umount", incoming);
            LabFactory.TryDelete(data, zoo);
        }
    }

    private static void Run(string command, params string[] args)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(command, args) { RedirectStandardError = true })!;
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{command} {string.Join(' ', args)} failed (this test needs root): {error}");
    }

    /// <summary>A fresh lab (its own data folder and zoo with the built-in probe set, optionally the tiny ONNX model) for one test.</summary>
    private static async Task WithLabAsync(Func<string, LabFactory, HttpClient, Task> test, IReadOnlyDictionary<string, string>? settings = null, bool tinyModel = false)
    {
        var data = LabFactory.NewFolder("abuse");
        var zoo = LabFactory.ZooWithFashionMnist();
        try
        {
            if (tinyModel) LabFactory.AddZooModel(zoo, "control-tiny", "Tiny control CNN", 50, Onnx.TinyCnn());
            await using var factory = new LabFactory(data, zoo, settings: settings);
            using var client = factory.CreateClient();
            await test(data, factory, client);
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    /// <summary>The pid of a process that has just ended.</summary>
    private static int DeadPid()
    {
        using var p = System.Diagnostics.Process.Start("true")!;
        p.WaitForExit();
        return p.Id;
    }
}
