using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// <c>GET /api/correlation</c> and the Correlation page against the real app (SQLite, Hangfire; the library faked):
/// runs queued with different maxShift and probe sets are separate groups, each with its own ρ, p and interval, and
/// the page shows the API's numbers.
/// </summary>
public sealed class CorrelationTests : IAsyncLifetime
{
    // The fake runner's scores grow with the length of the model id (its seed): m-a < m-bb < m-ccc < m-dddd in every
    // part's invariance; its equivariance is the same for every model.
    private readonly FakeLab _lab = new("correlation", ("m-a", "Model A", 80), ("m-bb", "Model B", 70), ("m-ccc", "Model C", 90),
        ("m-dddd", "Model D", 85), ("m-none", "Model without accuracy", 50));

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _lab.DisposeAsync().AsTask();

    private async Task<int> QueueAsync(string model, int maxShift, string probe = "fashion-mnist-test")
    {
        var created = await _lab.Client.PostAsJsonAsync("/api/runs", new { modelId = model, probeSetId = probe, transform = "translation", images = 64, maxShift });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
    }

    private async Task WaitDoneAsync(IEnumerable<int> ids)
    {
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        foreach (var id in ids)
        {
            while ((await _lab.Client.GetFromJsonAsync<JsonElement>($"/api/runs/{id}")).GetProperty("status").GetString() != "done")
            {
                if (DateTime.UtcNow > until) throw new TimeoutException($"Run {id} did not finish.");
                await Task.Delay(100);
            }
        }
    }

    private async Task<string> UploadProbeSetAsync()
    {
        var npy = Path.Combine(_lab.DataFolder, "other.npy");
        EquivarianceLab.Tests.Probes.NpyTestFiles.WriteRaw(npy, 1, EquivarianceLab.Tests.Probes.NpyTestFiles.Dict("(4, 1, 28, 28)"), new float[4 * 28 * 28]);
        using var form = new MultipartFormDataContent { { new StringContent("Other images"), "name" }, { new ByteArrayContent(File.ReadAllBytes(npy)), "file", "other.npy" } };
        var upload = await _lab.Client.PostAsync("/api/probesets", form);
        Assert.Equal(HttpStatusCode.Created, upload.StatusCode);
        return (await upload.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    private static JsonElement Part(JsonElement group, string part, string measure) =>
        group.GetProperty("parts").EnumerateArray().Single(p => p.GetProperty("part").GetString() == part).GetProperty(measure);

    [Fact]
    public async Task Runs_differing_in_max_shift_or_probe_set_are_separate_groups_and_the_page_shows_the_api_numbers()
    {
        var other = await UploadProbeSetAsync();
        Assert.Equal(HttpStatusCode.NoContent, (await _lab.Client.PatchAsJsonAsync("/api/models/m-none", new { accuracy = (double?)null })).StatusCode);
        var older = await QueueAsync("m-a", 2);
        await WaitDoneAsync([older]);
        int[] shift2 = [await QueueAsync("m-a", 2), await QueueAsync("m-bb", 2), await QueueAsync("m-ccc", 2), await QueueAsync("m-dddd", 2)];
        int[] shift3 = [await QueueAsync("m-a", 3), await QueueAsync("m-bb", 3), await QueueAsync("m-ccc", 3)];
        int[] otherProbe = [await QueueAsync("m-a", 2, other), await QueueAsync("m-bb", 2, other), await QueueAsync("m-ccc", 2, other)];
        var noAccuracy = await QueueAsync("m-none", 2);
        await WaitDoneAsync([.. shift2, .. shift3, .. otherProbe, noAccuracy]);

        var study = await _lab.Client.GetFromJsonAsync<JsonElement>("/api/correlation");
        var groups = study.GetProperty("groups").EnumerateArray().ToList();
        Assert.Equal(3, groups.Count);
        Assert.Equal([4, 3, 3], groups.Select(g => g.GetProperty("n").GetInt32()));
        Assert.Equal(3, groups.Select(g => g.GetProperty("key").GetString()).Distinct().Count());
        Assert.All(groups, g =>
        {
            Assert.Equal("translation", g.GetProperty("transform").GetString());
            Assert.Equal(64, g.GetProperty("images").GetInt32());
            Assert.Equal("Fashion-MNIST test", g.GetProperty("testSet").GetString());
        });

        // The largest group: shift 2 on the built-in set, each model's newest run. Score ranks 1 2 3 4, accuracy ranks
        // 2 1 4 3: Σd² = 4, ρ = 1 − 6·4/(4·15) = 0.6; of the 24 orderings, Σd² ≤ 4 or ≥ 16 (|ρ| ≥ 0.6) for 10: p = 10/24.
        var a = groups[0];
        Assert.Equal(2, a.GetProperty("maxShift").GetInt32());
        Assert.Equal("fashion-mnist-test", a.GetProperty("probeSet").GetProperty("id").GetString());
        Assert.Equal("Fashion-MNIST test (10k)", a.GetProperty("probeSet").GetProperty("name").GetString());
        Assert.Equal(shift2, a.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("runId").GetInt32()));
        Assert.Equal([80.0, 70, 90, 85], a.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("accuracy").GetDouble()));
        var olderRun = Assert.Single(a.GetProperty("leftOut").EnumerateArray());
        Assert.Equal(older, olderRun.GetProperty("runId").GetInt32());
        Assert.Contains($"each model counts once, with its newest run (#{shift2[0]})", olderRun.GetProperty("reason").GetString());
        Assert.Equal(["Early", "Middle", "Late", "Pool", "Final"], a.GetProperty("parts").EnumerateArray().Select(p => p.GetProperty("part").GetString()));
        foreach (var part in new[] { "Early", "Pool", "Final" })
        {
            var inv = Part(a, part, "invariance");
            Assert.Equal(0.6, inv.GetProperty("rho").GetDouble(), 12);
            Assert.Equal(4, inv.GetProperty("n").GetInt32());
            Assert.Equal(10.0 / 24, inv.GetProperty("p").GetDouble(), 12);
            Assert.True(inv.GetProperty("exact").GetBoolean());
            Assert.InRange(0.6, inv.GetProperty("low").GetDouble(), inv.GetProperty("high").GetDouble());
            Assert.True(inv.GetProperty("low").GetDouble() >= -1 && inv.GetProperty("high").GetDouble() <= 1);
            var eqv = Part(a, part, "equivariance");
            Assert.Equal(JsonValueKind.Null, eqv.GetProperty("rho").ValueKind);
            Assert.Equal(JsonValueKind.Null, eqv.GetProperty("low").ValueKind);
            Assert.Contains("is the same", eqv.GetProperty("reason").GetString());
        }

        // The two groups of three: score ranks 1 2 3, accuracy ranks 2 1 3: ρ = 1 − 6·2/(3·8) = 0.5, and every one of
        // the 6 orderings has |ρ| ≥ 0.5: p = 1.
        var byShift = groups.Skip(1).Single(g => g.GetProperty("maxShift").GetInt32() == 3);
        var byProbe = groups.Skip(1).Single(g => g.GetProperty("probeSet").GetProperty("id").GetString() == other);
        Assert.Equal("Other images", byProbe.GetProperty("probeSet").GetProperty("name").GetString());
        Assert.Equal(shift3, byShift.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("runId").GetInt32()));
        Assert.Equal(otherProbe, byProbe.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("runId").GetInt32()));
        foreach (var g in new[] { byShift, byProbe })
        {
            Assert.Equal(0.5, Part(g, "Early", "invariance").GetProperty("rho").GetDouble(), 12);
            Assert.Equal(1.0, Part(g, "Early", "invariance").GetProperty("p").GetDouble(), 12);
        }

        var noGroup = Assert.Single(study.GetProperty("leftOut").EnumerateArray());
        Assert.Equal(noAccuracy, noGroup.GetProperty("runId").GetInt32());
        Assert.Equal("Model without accuracy has no accuracy: set it on the model's card to count this run.", noGroup.GetProperty("reason").GetString());

        // ?group=KEY: that group alone, the same numbers.
        var key = a.GetProperty("key").GetString()!;
        var one = await _lab.Client.GetFromJsonAsync<JsonElement>($"/api/correlation?group={Uri.EscapeDataString(key)}");
        Assert.Equal(a.GetRawText(), Assert.Single(one.GetProperty("groups").EnumerateArray()).GetRawText());

        // The page at the same URL state shows the same numbers (as the server renders it).
        var html = await _lab.Client.GetStringAsync($"/correlation?group={Uri.EscapeDataString(key)}");
        foreach (var part in a.GetProperty("parts").EnumerateArray())
        {
            var name = part.GetProperty("part").GetString()!;
            var start = html.IndexOf($"data-part=\"{name}\"", StringComparison.Ordinal);
            Assert.True(start > 0, $"no row for {name}");
            var row = System.Text.RegularExpressions.Regex.Replace(html[start..html.IndexOf("</tr>", start, StringComparison.Ordinal)], "<[^>]+>", "|");
            var inv = part.GetProperty("invariance");
            string F(string field) => inv.GetProperty(field).GetDouble().ToString("0.000", System.Globalization.CultureInfo.InvariantCulture);
            Assert.Contains($"|{F("rho")}|", row);
            Assert.Contains($"|{F("p")} (exact)|", row);
            Assert.Contains($"|[{F("low")}, {F("high")}]|", row);
            Assert.Contains("|4|", row);
        }
        Assert.Contains("An older run of Model A", html);
        Assert.Contains("Model without accuracy has no accuracy", html);

        // Without a group the page names the largest one in its URL.
        var landing = await _lab.Client.GetAsync("/correlation");
        Assert.Equal(HttpStatusCode.OK, landing.StatusCode);
        Assert.EndsWith($"/correlation?group={Uri.EscapeDataString(key)}", landing.RequestMessage!.RequestUri!.AbsoluteUri.Replace("%7E", "~", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unknown_group_is_a_404_problem()
    {
        var response = await _lab.Client.GetAsync("/api/correlation?group=rotation~shift99~pearson~1img~nothing~nowhere");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(404, problem.GetProperty("status").GetInt32());
        Assert.StartsWith("No group of comparable runs 'rotation~shift99~pearson~1img~nothing~nowhere'", problem.GetProperty("detail").GetString());

        // With no runs at all there are no groups and nothing left out.
        var empty = await _lab.Client.GetFromJsonAsync<JsonElement>("/api/correlation");
        Assert.Equal(0, empty.GetProperty("groups").GetArrayLength());
        Assert.Equal(0, empty.GetProperty("leftOut").GetArrayLength());
    }
}
