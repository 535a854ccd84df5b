using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using EquivarianceLab.Web.Tests.Fakes;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// Access, in process: the Hangfire dashboard for admins only (the implicit local admin of a loopback server without
/// accounts, an admin account, or configured credentials); stored files never reachable by a path in the URL; the API's answers (results and errors, the
/// unexpected kind included) free of paths, exception names and stack traces. The test server gives each request the
/// remote address in the X-Test-Remote-Ip header (loopback without it); the real-process checks are in the e2e suite.
/// </summary>
public sealed class AccessTests
{

    private static async Task WithLabAsync(Func<LabFactory, HttpClient, Task> test, IReadOnlyDictionary<string, string>? settings = null,
        Action<IServiceCollection>? services = null)
    {
        var data = LabFactory.NewFolder("access");
        var zoo = LabFactory.ZooWithFashionMnist();
        LabFactory.AddZooModel(zoo, "control-a", "Control A", 80, FakeLab.FakeOnnx);
        try
        {
            await using var factory = new LabFactory(data, zoo, new FakeMeasurementRunner(), settings: settings, services: s =>
            {
                s.AddSingleton<IStartupFilter, RemoteAddressFromHeader>();
                services?.Invoke(s);
            });
            using var client = factory.CreateClient(new() { AllowAutoRedirect = false });
            await test(factory, client);
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    private static HttpRequestMessage Get(string url, string? remote = null, (string User, string Password)? basic = null, string? forwardedFor = null)
    {
        var r = new HttpRequestMessage(HttpMethod.Get, url);
        if (remote is not null) r.Headers.Add(RemoteAddressFromHeader.Header, remote);
        if (forwardedFor is not null) r.Headers.Add("X-Forwarded-For", forwardedFor);
        if (basic is { } b) r.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{b.User}:{b.Password}")));
        return r;
    }

    [Fact]
    public async Task Without_accounts_on_loopback_the_local_user_is_the_admin_and_sees_the_hangfire_dashboard() => await WithLabAsync(async (_, client) =>
    {
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Get("/hangfire"))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Get("/hangfire/jobs/enqueued"))).StatusCode);
    });

    [Fact]
    public async Task With_accounts_required_the_hangfire_dashboard_is_for_admins_whatever_the_headers_say() => await WithLabAsync(async (factory, client) =>
    {
        var member = await AccountsTests.AddAsync(factory, "mia", "member");
        var admin = await AccountsTests.AddAsync(factory, "ada", "admin");
        // A forged Host, a loopback address, a forwarded-for: none makes anyone an admin.
        var forged = Get("/hangfire", remote: "127.0.0.1", forwardedFor: "127.0.0.1");
        forged.Headers.Host = "localhost";
        Assert.True((await client.SendAsync(forged)).StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden);
        Assert.True((await client.SendAsync(Bearer(Get("/hangfire"), member))).StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Bearer(Get("/hangfire"), admin))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(Get("/hangfire", remote: "192.0.2.10", basic: ("ops", "s3cret pass")))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(Get("/hangfire", remote: "192.0.2.10", basic: ("ops", "wrong")))).StatusCode);
    }, new Dictionary<string, string>
    {
        ["EquivarianceLab:Access:RequireAccounts"] = "true",
        ["EquivarianceLab:HangfireDashboard:User"] = "ops",
        ["EquivarianceLab:HangfireDashboard:Password"] = "s3cret pass",
    });

    private static HttpRequestMessage Bearer(HttpRequestMessage request, string token)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    [Theory]
    [InlineData("/thumbnails/..%2F..%2Fequivariancelab.db/0.png")]
    [InlineData("/thumbnails/..%2Fthumbnails%2Ffashion-mnist-test/0.png")]
    [InlineData("/thumbnails/fashion-mnist-test/-1.png")]
    [InlineData("/thumbnails/fashion-mnist-test/999.png")]
    [InlineData("/thumbnails/%2Fetc%2Fpasswd/0.png")]
    [InlineData("/equivariancelab.db")]
    [InlineData("/hangfire.db")]
    [InlineData("/data/equivariancelab.db")]
    [InlineData("/appsettings.json")]
    [InlineData("/models/control-a/card.json")]
    [InlineData("/models/control-a/model.onnx")]
    [InlineData("/thumbnails/fashion-mnist-test/0.png/../../../hangfire.db")]
    [InlineData("/_content/../appsettings.json")]
    public async Task Stored_files_are_never_served_by_a_path_from_the_url(string url) => await WithLabAsync(async (_, client) =>
    {
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/thumbnails/fashion-mnist-test/0.png")).StatusCode);
        var r = await client.GetAsync(url);
        Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        var body = await r.Content.ReadAsByteArrayAsync();
        Assert.False(body.AsSpan().StartsWith("SQLite format"u8), "a database file was served");
        Assert.False(body.AsSpan().StartsWith((ReadOnlySpan<byte>)[0x89, (byte)'P', (byte)'N', (byte)'G']), "an image was served");
    });

    [Fact]
    public async Task Api_answers_hold_results_and_messages_only() => await WithLabAsync(async (_, client) =>
    {
        var created = await client.PostAsJsonAsync("/api/runs", new { modelId = "control-a", images = 32 });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
        var until = DateTime.UtcNow.AddSeconds(60);
        string run;
        do
        {
            await Task.Delay(100);
            run = await client.GetStringAsync($"/api/runs/{id}");
        } while (!run.Contains("\"status\":\"done\"", StringComparison.Ordinal) && DateTime.UtcNow < until);
        Assert.Contains("\"result\":{", run);
        foreach (var text in new[]
                 {
                     run, await client.GetStringAsync($"/api/runs/{id}.csv"), await client.GetStringAsync($"/api/runs/{id}.json"),
                     await client.GetStringAsync("/api/runs"), await client.GetStringAsync("/api/models"), await client.GetStringAsync("/api/probesets"),
                 })
        {
            Leaks.AssertNone(text, "an API answer");
        }

        // Error answers: unknown ids, bad JSON, wrong content, oversized bodies, unknown fields' values.
        var errors = new List<HttpResponseMessage>
        {
            await client.GetAsync("/api/runs/999999"),
            await client.GetAsync("/api/runs/999999.csv"),
            await client.GetAsync("/api/models/..%2F..%2Fappsettings.json"),
            await client.PostAsync("/api/runs", new StringContent("{\"modelId\": ", Encoding.UTF8, "application/json")),
            await client.PostAsync("/api/runs", new StringContent("<run/>", Encoding.UTF8, "application/xml")),
            await client.PostAsync("/api/runs", new StringContent(new string(' ', 70_000) + "{}", Encoding.UTF8, "application/json")),
            await client.PostAsJsonAsync("/api/runs", new { modelId = "control-a", transform = "../../etc" }),
            await client.PostAsJsonAsync("/api/runs", new { modelId = "control-a", probeSetId = "/tmp/x.npy" }),
            await client.PostAsync("/api/models", new StringContent("x")),
            await client.PostAsync($"/api/runs/999999/cancel", null),
        };
        foreach (var r in errors)
        {
            Assert.True((int)r.StatusCode is >= 400 and < 500, $"{r.RequestMessage!.RequestUri}: {r.StatusCode}");
            Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
            var body = await r.Content.ReadAsStringAsync();
            Assert.True(JsonDocument.Parse(body).RootElement.TryGetProperty("detail", out var _), body);
            Leaks.AssertNone(body.Replace("/tmp/x.npy", "", StringComparison.Ordinal), $"the error answer of {r.RequestMessage.RequestUri}");
        }
    });

    [Fact]
    public async Task An_unexpected_failure_in_the_api_is_a_500_with_a_request_id_and_nothing_else() => await WithLabAsync(async (_, client) =>
    {
        var r = await client.PostAsJsonAsync("/api/runs", new { modelId = "control-a", images = 32 });
        Assert.Equal(HttpStatusCode.InternalServerError, r.StatusCode);
        var body = await r.Content.ReadAsStringAsync();
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(body).RootElement.GetProperty("detail").GetString()!;
        Assert.StartsWith("Internal error; the server log has the details (request ", error);
        Leaks.AssertNone(body, "the 500 answer");
        Assert.DoesNotContain("secret", body);
    }, services: s => s.AddSingleton<IBackgroundJobClient, ExplodingJobClient>());

    /// <summary>Test-only: the request's remote address from a header (loopback when absent), as Kestrel would set it.</summary>
    private sealed class RemoteAddressFromHeader : IStartupFilter
    {
        public const string Header = "X-Test-Remote-Ip";

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((ctx, nextMiddleware) =>
            {
                ctx.Connection.RemoteIpAddress = ctx.Request.Headers.TryGetValue(Header, out var v) ? IPAddress.Parse(v.ToString()) : IPAddress.Loopback;
                ctx.Connection.LocalIpAddress = IPAddress.Loopback;
                return nextMiddleware(ctx);
            });
            next(app);
        };
    }

    private sealed class ExplodingJobClient : IBackgroundJobClient
    {
        public string Create(Job job, IState state) =>
            throw new InvalidOperationException("secret storage at /tmp/secret/hangfire.db is gone");

        public bool ChangeState(string jobId, IState state, string expectedState) => false;
    }
}
