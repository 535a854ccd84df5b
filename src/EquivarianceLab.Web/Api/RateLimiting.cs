using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace EquivarianceLab.Web.Api;

/// <summary>
/// Per-client budgets (ASP.NET Core's rate limiter, a fixed one-minute window per client address) for the requests
/// that cost the server real work: queueing runs and uploading files. Over budget: 429 as a problem, with Retry-After.
/// </summary>
public static class RateLimiting
{
    public const string Runs = "runs";
    public const string Uploads = "uploads";
    public const string Api = "api";

    public static IServiceCollection AddEquivarianceLabRateLimits(this IServiceCollection services, RateLimits limits)
    {
        services.AddRateLimiter(o =>
        {
            o.AddPolicy(Runs, http => PerClient(http, limits.RunsPerMinute));
            o.AddPolicy(Uploads, http => PerClient(http, limits.UploadsPerMinute));
            o.AddPolicy(Api, http => PerClient(http, limits.ApiRequestsPerMinute));
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = async (context, ct) =>
            {
                var retry = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromMinutes(1);
                await ApiProblems.From(RequestException.OverQuota($"Too many requests: try again in {Seconds(retry)} s.", retry))
                    .ExecuteAsync(WithRetryAfter(context.HttpContext, retry));
            };
        });
        return services;
    }

    /// <summary>Sets Retry-After in whole seconds (rounded up) on a 429 from the limiter or a quota.</summary>
    public static HttpContext WithRetryAfter(HttpContext http, TimeSpan retryAfter)
    {
        http.Response.Headers.RetryAfter = Seconds(retryAfter).ToString(CultureInfo.InvariantCulture);
        return http;
    }

    private static int Seconds(TimeSpan t) => (int)Math.Ceiling(t.TotalSeconds);

    /// <summary>A signed-in caller's budget is theirs wherever they connect from; anyone else's is their address's.</summary>
    private static RateLimitPartition<string> PerClient(HttpContext http, int perMinute) =>
        RateLimitPartition.GetFixedWindowLimiter(
            http.User.FindFirst(System.Security.Claims.ClaimTypes.NameIdentifier)?.Value is { } user ? "user:" + user : "ip:" + (http.Connection.RemoteIpAddress?.ToString() ?? "unknown"),
            _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = perMinute,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        });
}
