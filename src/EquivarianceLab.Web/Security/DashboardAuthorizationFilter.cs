using System.Net;
using System.Security.Cryptography;
using System.Text;
using Hangfire.Dashboard;

namespace EquivarianceLab.Web.Security;

/// <summary>
/// Guards the Hangfire dashboard (job arguments, server names, queue internals). Without configured credentials a
/// request gets in only when it comes from a loopback address and carries no proxy forwarding header (a reverse proxy
/// on the same machine makes every visitor look local). With credentials configured, every request, local or not,
/// must send them as HTTP Basic; a refused request gets 401 with a Basic challenge.
/// </summary>
public sealed class DashboardAuthorizationFilter(DashboardAccess access) : IDashboardAuthorizationFilter
{
    private static readonly string[] ForwardingHeaders = ["X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP", "Forwarded"];

    public bool Authorize(DashboardContext context) => IsAllowed(context.GetHttpContext());

    public bool IsAllowed(HttpContext http)
    {
        if (access.HasCredentials)
        {
            if (HasValidCredentials(http.Request, access.User!, access.Password!)) return true;
            http.Response.Headers.WWWAuthenticate = "Basic realm=\"EquivarianceLab jobs\", charset=\"UTF-8\"";
            return false;
        }
        return IsLocal(http);
    }

    public static bool IsLocal(HttpContext http)
    {
        var remote = http.Connection.RemoteIpAddress;
        if (remote is null || !IPAddress.IsLoopback(remote)) return false;
        return !ForwardingHeaders.Any(h => http.Request.Headers.ContainsKey(h));
    }

    internal static bool HasValidCredentials(HttpRequest request, string user, string password)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return false;
        string decoded;
        try { decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim())); }
        catch (FormatException) { return false; }
        var colon = decoded.IndexOf(':');
        if (colon < 0) return false;
        // Both compared in constant time, so timing tells nothing about either.
        var userOk = FixedTimeEquals(decoded[..colon], user);
        var passwordOk = FixedTimeEquals(decoded[(colon + 1)..], password);
        return userOk & passwordOk;
    }

    private static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(a)), SHA256.HashData(Encoding.UTF8.GetBytes(b)));
}
