using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using EquivarianceLab.Web.Tests.Fakes;
using Hangfire;
using Hangfire.Common;
using Hangfire.States;
using Microsoft.Extensions.DependencyInjection;

namespace EquivarianceLab.Web.Tests.Integration;

/// <summary>One app (the library faked) for the header tests.</summary>
public sealed class HeadersFixture : IAsyncLifetime
{
    private static readonly byte[] FakeOnnx = [0x08, 0x07, 0x12, 0x04, 0x74, 0x65, 0x73, 0x74];
    public string Data { get; } = LabFactory.NewFolder("headers");
    public string Zoo { get; } = LabFactory.ZooWithFashionMnist();
    public LabFactory Factory { get; private set; } = null!;
    public HttpClient Client { get; private set; } = null!;

    public Task InitializeAsync()
    {
        LabFactory.AddZooModel(Zoo, "control-a", "Control A", 81.5, FakeOnnx);
        Factory = new LabFactory(Data, Zoo, new FakeMeasurementRunner());
        Client = Factory.CreateClient(new() { AllowAutoRedirect = false });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Factory.DisposeAsync();
        LabFactory.TryDelete(Data, Zoo);
    }
}

/// <summary>
/// Every response, whatever produced it, carries one Content-Security-Policy (scripts from this origin only, never
/// eval, no framing), nosniff and no referrer; the one inline script of a page (the import map, Scalar's start-up
/// module) carries the nonce of its own response's policy.
/// </summary>
public sealed partial class SecurityHeadersTests(HeadersFixture app) : IClassFixture<HeadersFixture>
{
    [Theory]
    [InlineData("/")]
    [InlineData("/models")]
    [InlineData("/runs")]
    [InlineData("/compare")]
    [InlineData("/probesets")]
    [InlineData("/measure")]
    [InlineData("/error")]
    [InlineData("/scalar/")]
    public async Task Html_pages_carry_the_policy(string path)
    {
        using var r = await app.Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("text/html", r.Content.Headers.ContentType?.MediaType);
        AssertDefended(r, path);
    }

    [Theory]
    [InlineData("/no-such-page", HttpStatusCode.NotFound)]
    [InlineData("/api/runs/999999", HttpStatusCode.NotFound)]
    [InlineData("/api/runs", HttpStatusCode.OK)]
    [InlineData("/openapi/v1.json", HttpStatusCode.OK)]
    [InlineData("/health/live", HttpStatusCode.OK)]
    [InlineData("/favicon.svg", HttpStatusCode.OK)]
    [InlineData("/lib/apexcharts/apexcharts.min.js", HttpStatusCode.OK)]
    [InlineData("/scalar", HttpStatusCode.Redirect)]
    // The Hangfire dashboard (the local admin's, on a test server without accounts) is defended like every page.
    [InlineData("/hangfire", HttpStatusCode.OK)]
    public async Task Every_other_response_carries_it_too(string path, HttpStatusCode status)
    {
        using var r = await app.Client.GetAsync(path);
        Assert.Equal(status, r.StatusCode);
        AssertDefended(r, path);
    }

    [Fact]
    public async Task An_unexpected_error_answer_keeps_the_headers_the_exception_handler_cleared()
    {
        var data = LabFactory.NewFolder("headers-500");
        await using var exploding = new LabFactory(data, app.Zoo, new FakeMeasurementRunner(),
            services: s => s.AddSingleton<IBackgroundJobClient, ExplodingJobClient>());
        try
        {
            using var client = exploding.CreateClient();
            using var r = await client.PostAsJsonAsync("/api/runs", new { modelId = "control-a", images = 8 });
            Assert.Equal(HttpStatusCode.InternalServerError, r.StatusCode);
            AssertDefended(r, "the 500 answer");
        }
        finally
        {
            LabFactory.TryDelete(data);
        }
    }

    [Fact]
    public async Task The_import_map_carries_a_fresh_nonce_that_its_policy_allows()
    {
        var nonces = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            using var r = await app.Client.GetAsync("/models");
            var html = await r.Content.ReadAsStringAsync();
            var importMap = Assert.Single(ScriptTag().Matches(html), m => m.Value.Contains("type=\"importmap\"", StringComparison.Ordinal));
            var nonce = WebUtility.HtmlDecode(NonceAttribute().Match(importMap.Value).Groups[1].Value);
            Assert.Equal([nonce], PolicyNonces(r));
            // Every other script is a file of this origin.
            Assert.All(ScriptTag().Matches(html).Where(m => m.Index != importMap.Index), m => Assert.Contains(" src=\"", m.Value));
            nonces.Add(nonce);
        }
        Assert.NotEqual(nonces[0], nonces[1]);
        Assert.Equal(22, nonces[0].Length); // 16 random bytes, base64url
    }

    [Fact]
    public async Task Scalars_inline_script_carries_the_nonce_of_its_policy()
    {
        using var r = await app.Client.GetAsync("/scalar/");
        var html = await r.Content.ReadAsStringAsync();
        var nonce = Assert.Single(PolicyNonces(r));
        var inline = ScriptTag().Matches(html).Where(m => !m.Value.Contains(" src=", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(inline);
        Assert.All(inline, m => Assert.Equal(nonce, WebUtility.HtmlDecode(NonceAttribute().Match(m.Value).Groups[1].Value)));
    }

    /// <summary>One policy (Blazor's own frame-ancestors policy is switched off), with every directive the app relies on.</summary>
    internal static void AssertDefended(HttpResponseMessage r, string what)
    {
        Assert.True(r.Headers.TryGetValues("Content-Security-Policy", out var policies), $"{what}: no Content-Security-Policy");
        var policy = Assert.Single(policies);
        var directives = policy.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .ToDictionary(d => d.Split(' ')[0], d => d[(d.IndexOf(' ') + 1)..]);
        Assert.DoesNotContain("unsafe-eval", policy);
        Assert.Matches(@"^'self'( 'nonce-[A-Za-z0-9+/_=-]+')*$", directives["script-src"]);
        Assert.Equal("'self'", directives["default-src"]);
        Assert.Equal("'self'", directives["connect-src"]);
        Assert.Equal("'self' data: blob:", directives["img-src"]);
        Assert.Equal("'self' 'unsafe-inline'", directives["style-src"]);
        Assert.Equal("'none'", directives["frame-ancestors"]);
        Assert.Equal("'none'", directives["object-src"]);
        Assert.Equal("'self'", directives["base-uri"]);
        Assert.Equal("'self'", directives["form-action"]);
        Assert.Equal("nosniff", Assert.Single(r.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("no-referrer", Assert.Single(r.Headers.GetValues("Referrer-Policy")));
        Assert.Equal("DENY", Assert.Single(r.Headers.GetValues("X-Frame-Options")));
    }

    private static List<string> PolicyNonces(HttpResponseMessage r) =>
        PolicyNonce().Matches(r.Headers.GetValues("Content-Security-Policy").Single()).Select(m => m.Groups[1].Value).ToList();

    [GeneratedRegex("<script[^>]*>")]
    private static partial Regex ScriptTag();

    [GeneratedRegex("nonce=\"([^\"]+)\"")]
    private static partial Regex NonceAttribute();

    [GeneratedRegex("'nonce-([^']+)'")]
    private static partial Regex PolicyNonce();

    private sealed class ExplodingJobClient : IBackgroundJobClient
    {
        public string Create(Job job, IState state) => throw new InvalidOperationException("the job storage is gone");

        public bool ChangeState(string jobId, IState state, string expectedState) => false;
    }
}
