using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace EquivarianceLab.E2E.Infrastructure;

/// <summary>The app's HTTP API as a script would use it.</summary>
public static class LabApi
{
    public static async Task<int> QueueAsync(this HttpClient client, string modelId, string transform = "rotation", int images = 16, int maxShift = 16,
        string probeSetId = "fashion-mnist-test")
    {
        using var r = await client.PostAsJsonAsync("api/runs", new { modelId, probeSetId, transform, similarity = "pearson", images, maxShift });
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.Created, $"POST /api/runs for {modelId}: {(int)r.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement.GetProperty("id").GetInt32();
    }

    /// <summary>Uploads a model or probe set (<paramref name="path"/> api/models or api/probesets) with its name; returns its id.</summary>
    public static async Task<string> UploadAsync(this HttpClient api, string path, string fileName, byte[] bytes, string name, params (string Field, string Value)[] fields)
    {
        using var form = new MultipartFormDataContent { { new ByteArrayContent(bytes), "file", fileName }, { new StringContent(name), "name" } };
        foreach (var (field, value) in fields) form.Add(new StringContent(value), field);
        using var r = await api.PostAsync(path, form);
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.Created, $"POST {path}: {(int)r.StatusCode} {body}");
        var created = JsonDocument.Parse(body).RootElement;
        Assert.Equal(name, created.GetProperty("name").GetString());
        return created.GetProperty("id").GetString()!;
    }

    public static async Task<JsonElement> RunAsync(this HttpClient client, int id) =>
        await client.GetFromJsonAsync<JsonElement>($"api/runs/{id}");

    /// <summary>Polls until the run is in one of <paramref name="statuses"/> (default: finished).</summary>
    public static async Task<JsonElement> WaitForRunAsync(this HttpClient client, int id, TimeSpan timeout, params string[] statuses)
    {
        if (statuses.Length == 0) statuses = ["done", "failed", "cancelled"];
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            var run = await client.RunAsync(id);
            var status = run.GetProperty("status").GetString();
            if (statuses.Contains(status)) return run;
            if (DateTime.UtcNow > until)
                throw new TimeoutException($"Run {id} is '{status}' (progress {run.GetProperty("progress")}) after {timeout.TotalSeconds:0} s; waited for {string.Join("/", statuses)}.");
            await Task.Delay(200);
        }
    }

    /// <summary>Polls until the run is running and has measured at least one batch.</summary>
    public static async Task<JsonElement> WaitForProgressAsync(this HttpClient client, int id, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (true)
        {
            var run = await client.RunAsync(id);
            if (run.GetProperty("status").GetString() == "running" && run.GetProperty("imagesDone").GetInt32() > 0) return run;
            Assert.True(run.GetProperty("status").GetString() is "queued" or "running", $"run {id} ended before it could be interrupted: {run}");
            if (DateTime.UtcNow > until) throw new TimeoutException($"Run {id} made no progress in {timeout.TotalSeconds:0} s: {run}");
            await Task.Delay(100);
        }
    }

    /// <summary>What users may see: results and messages, never paths, exception types or stack traces.</summary>
    public static void AssertNoLeak(string text, string what)
    {
        foreach (var bad in new[] { "/tmp", "/work", "Exception", " at " })
            Assert.False(text.Contains(bad, StringComparison.Ordinal), $"{what} contains '{bad}': {text}");
    }
}
