using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using EquivarianceLab.Web.Accounts;
using EquivarianceLab.Web.Tests.Fakes;
using Microsoft.Extensions.DependencyInjection;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>
/// Accounts, roles and ownership against the real app (real Identity tables in SQLite, real token authentication):
/// who may read, queue, cancel and change what, with accounts required and in the loopback default.
/// </summary>
public sealed class AccountsTests
{

    internal static async Task<string> AddAsync(LabFactory factory, string name, string role)
    {
        await using var scope = factory.Services.CreateAsyncScope();
        return (await scope.ServiceProvider.GetRequiredService<AccountService>().AddUserAsync(name, role, "a-Long-passw0rd")).ApiToken;
    }

    private static async Task WithAccountsAsync(Func<LabFactory, HttpClient, Task> test, bool anonymousRead = true, int runsPerMinute = 120,
        IReadOnlyDictionary<string, string>? more = null)
    {
        var data = LabFactory.NewFolder("accounts");
        var zoo = LabFactory.ZooWithFashionMnist();
        LabFactory.AddZooModel(zoo, "control-a", "Control A", 80, FakeLab.FakeOnnx);
        try
        {
            var settings = new Dictionary<string, string>
            {
                ["EquivarianceLab:Access:RequireAccounts"] = "true",
                ["EquivarianceLab:Access:AnonymousRead"] = anonymousRead ? "true" : "false",
                ["EquivarianceLab:RateLimits:RunsPerMinute"] = runsPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["EquivarianceLab:Role"] = "Ui",
            };
            foreach (var (k, v) in more ?? new Dictionary<string, string>()) settings[k] = v;
            await using var factory = new LabFactory(data, zoo, new FakeMeasurementRunner(), settings: settings);
            using var client = factory.CreateClient(new() { AllowAutoRedirect = false });
            await test(factory, client);
        }
        finally
        {
            LabFactory.TryDelete(data, zoo);
        }
    }

    private static HttpRequestMessage As(string? token, HttpMethod method, string url, object? json = null)
    {
        var r = new HttpRequestMessage(method, url);
        if (token is not null) r.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (json is not null) r.Content = JsonContent.Create(json);
        return r;
    }

    private static async Task<int> QueueAsync(HttpClient client, string token)
    {
        var created = await client.SendAsync(As(token, HttpMethod.Post, "/api/runs", new { modelId = "control-a", transform = "rotation", images = 8 }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt32();
    }

    [Fact]
    public async Task Anonymous_writes_are_401_and_shared_links_still_read() => await WithAccountsAsync(async (factory, client) =>
    {
        var alice = await AddAsync(factory, "alice", Roles.Member);
        var run = await QueueAsync(client, alice);

        var anonymous = await client.SendAsync(As(null, HttpMethod.Post, "/api/runs", new { modelId = "control-a" }));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("application/problem+json", anonymous.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(As("eqlab_not-a-real-token", HttpMethod.Post, "/api/runs", new { modelId = "control-a" }))).StatusCode);

        // A colleague with the link reads without an account: the run, the list, the pages.
        var shared = await client.GetAsync($"/api/runs/{run}");
        Assert.Equal(HttpStatusCode.OK, shared.StatusCode);
        Assert.Equal("alice", (await shared.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ownerName").GetString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/runs/{run}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/models")).StatusCode);
    });

    [Fact]
    public async Task A_member_changes_only_their_own_runs_and_an_admin_any() => await WithAccountsAsync(async (factory, client) =>
    {
        var alice = await AddAsync(factory, "alice", Roles.Member);
        var bob = await AddAsync(factory, "bob", Roles.Member);
        var ada = await AddAsync(factory, "ada", Roles.Admin);
        var alicesRun = await QueueAsync(client, alice);

        var bobCancels = await client.SendAsync(As(bob, HttpMethod.Post, $"/api/runs/{alicesRun}/cancel"));
        Assert.Equal(HttpStatusCode.Forbidden, bobCancels.StatusCode);
        Assert.Contains("not yours", (await bobCancels.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await client.SendAsync(As(bob, HttpMethod.Post, $"/api/runs/{alicesRun}/rerun"))).StatusCode);
        Assert.Equal("queued", (await client.GetFromJsonAsync<JsonElement>($"/api/runs/{alicesRun}")).GetProperty("status").GetString());

        Assert.Equal(HttpStatusCode.Created, (await client.SendAsync(As(alice, HttpMethod.Post, $"/api/runs/{alicesRun}/rerun"))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.SendAsync(As(bob, HttpMethod.Delete, $"/api/runs/{alicesRun}"))).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await client.SendAsync(As(alice, HttpMethod.Delete, $"/api/runs/{alicesRun}"))).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await client.SendAsync(As(ada, HttpMethod.Post, $"/api/runs/{alicesRun}/cancel"))).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await client.SendAsync(As(alice, HttpMethod.Delete, $"/api/runs/{alicesRun}"))).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/runs/{alicesRun}")).StatusCode);

        // A zoo model's accuracy feeds every correlation: members may not change it, admins may.
        Assert.Equal(HttpStatusCode.Forbidden, (await client.SendAsync(As(alice, HttpMethod.Patch, "/api/models/control-a", new { accuracy = 99.0 }))).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await client.SendAsync(As(ada, HttpMethod.Patch, "/api/models/control-a", new { accuracy = 81.5 }))).StatusCode);
    });

    [Fact]
    public async Task A_member_over_the_rate_limit_gets_429_with_retry_after_and_another_member_does_not() => await WithAccountsAsync(async (factory, client) =>
    {
        var alice = await AddAsync(factory, "alice", Roles.Member);
        var bob = await AddAsync(factory, "bob", Roles.Member);
        for (var i = 0; i < 3; i++) await QueueAsync(client, alice);
        var over = await client.SendAsync(As(alice, HttpMethod.Post, "/api/runs", new { modelId = "control-a" }));
        Assert.Equal(HttpStatusCode.TooManyRequests, over.StatusCode);
        Assert.NotNull(over.Headers.RetryAfter);
        // Budgets are per account, not per address: bob, on the same address, still has his.
        await QueueAsync(client, bob);
    }, runsPerMinute: 3);

    [Fact]
    public async Task Quotas_limit_an_accounts_active_runs_and_daily_upload_bytes() => await WithAccountsAsync(async (factory, client) =>
    {
        var alice = await AddAsync(factory, "alice", Roles.Member);
        await QueueAsync(client, alice);
        await QueueAsync(client, alice);
        var third = await client.SendAsync(As(alice, HttpMethod.Post, "/api/runs", new { modelId = "control-a" }));
        Assert.Equal(HttpStatusCode.TooManyRequests, third.StatusCode);
        Assert.NotNull(third.Headers.RetryAfter);
        Assert.Contains("runs queued or running", (await third.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());

        var upload = As(alice, HttpMethod.Post, "/api/models");
        upload.Content = new MultipartFormDataContent { { new ByteArrayContent(new byte[4096]), "file", "big.onnx" } };
        var refused = await client.SendAsync(upload);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Contains("a day", (await refused.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString());
        Assert.Empty(DataFolderFiles.StoredUploads(factory.DataFolder));
    }, more: new Dictionary<string, string>
    {
        ["EquivarianceLab:RateLimits:MaxActiveRunsPerUser"] = "2",
        ["EquivarianceLab:RateLimits:UploadBytesPerDay"] = "1000",
    });

    [Fact]
    public async Task Without_anonymous_reading_a_shared_link_needs_an_account() => await WithAccountsAsync(async (factory, client) =>
    {
        var alice = await AddAsync(factory, "alice", Roles.Member);
        var run = await QueueAsync(client, alice);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync($"/api/runs/{run}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(As(alice, HttpMethod.Get, $"/api/runs/{run}"))).StatusCode);
        var page = await client.GetAsync($"/runs/{run}");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.StartsWith("/account/login", page.Headers.Location!.PathAndQuery);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/account/login")).StatusCode);
    }, anonymousRead: false);

    [Fact]
    public async Task A_revoked_token_no_longer_works() => await WithAccountsAsync(async (factory, client) =>
    {
        var alice = await AddAsync(factory, "alice", Roles.Member);
        await using var scope = factory.Services.CreateAsyncScope();
        var accounts = scope.ServiceProvider.GetRequiredService<AccountService>();
        var principal = await accounts.FindByTokenAsync(alice);
        var userId = principal!.FindFirst(System.Security.Claims.ClaimTypes.NameIdentifier)!.Value;
        var second = await accounts.MakeTokenAsync(userId, "laptop");
        await QueueAsync(client, second);
        var token = (await accounts.TokensAsync(userId)).Single(t => t.Name == "laptop");
        Assert.True(await accounts.RevokeTokenAsync(userId, token.Id));
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.SendAsync(As(second, HttpMethod.Post, "/api/runs", new { modelId = "control-a" }))).StatusCode);
        await QueueAsync(client, alice);
    });
}
