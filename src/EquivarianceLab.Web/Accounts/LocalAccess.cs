using System.Net;
using System.Security.Claims;
using EquivarianceLab.Web.Data;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Accounts;

/// <summary>
/// The one-command default: while the server listens on loopback addresses only, no account exists and accounts are
/// not required, whoever uses it is the local admin without signing in. It is decided from what the server binds to
/// and what the database holds — never from the request (a Host or forwarded header proves nothing).
/// </summary>
public sealed class LocalAccess(IServer server, IDbContextFactory<AppDbContext> dbFactory, LabOptions options, TimeProvider time)
{
    public const string AuthenticationType = "local";

    /// <summary>How long "are there accounts?" is remembered (the command line may add one while the server runs).</summary>
    private static readonly TimeSpan AccountCheckInterval = TimeSpan.FromSeconds(5);

    private readonly Lock _lock = new();
    private (bool Any, DateTimeOffset At)? _accounts;

    public static ClaimsPrincipal Principal { get; } = new(new ClaimsIdentity(
        [new Claim(ClaimTypes.Name, "local admin"), new Claim(ClaimTypes.Role, Roles.Admin)], AuthenticationType));

    public static bool IsLocal(ClaimsPrincipal user) => user.Identity?.AuthenticationType == AuthenticationType;

    public async Task<bool> IsActiveAsync(CancellationToken ct)
    {
        if (options.Access.RequireAccounts || !ListensOnLoopbackOnly()) return false;
        return !await AnyAccountAsync(ct);
    }

    /// <summary>Every address the server listens on is a loopback one (the in-process test host listens on none).</summary>
    public bool ListensOnLoopbackOnly()
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses;
        return addresses is null || addresses.All(IsLoopback);
    }

    public async Task<bool> AnyAccountAsync(CancellationToken ct)
    {
        lock (_lock)
            if (_accounts is { } known && time.GetUtcNow() - known.At < AccountCheckInterval) return known.Any;
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var any = await db.Users.AnyAsync(ct);
        lock (_lock) _accounts = (any, time.GetUtcNow());
        return any;
    }

    internal static bool IsLoopback(string url)
    {
        var host = Uri.TryCreate(url.Replace("*", "0.0.0.0", StringComparison.Ordinal).Replace("+", "0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri)
            ? uri.Host.Trim('[', ']') : url;
        return host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var ip) && IPAddress.IsLoopback(ip));
    }
}
