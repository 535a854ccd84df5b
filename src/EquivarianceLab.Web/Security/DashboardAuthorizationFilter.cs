using System.Security.Cryptography;
using System.Text;
using Hangfire.Dashboard;

namespace EquivarianceLab.Web.Security;

/// <summary>
/// Guards the Hangfire dashboard (job arguments, server names, queue internals): admins only — an admin account, or
/// the local admin of a loopback-only server without accounts (<see cref="Accounts.LocalAccess"/>) — or, when
/// configured, HTTP Basic credentials. Nothing the client sends in a header other than credentials counts: not
/// <c>Host</c>, not a forwarded address.
/// </summary>
public sealed class DashboardAuthorizationFilter(DashboardAccess access) : IDashboardAuthorizationFilter
{
    public bool Authorize(DashboardContext context) => IsAllowed(context.GetHttpContext());

    public bool IsAllowed(HttpContext http)
    {
        if (http.User.IsInRole(Accounts.Roles.Admin)) return true;
        if (access.HasCredentials && HasValidCredentials(http.Request, access.User!, access.Password!)) return true;
        if (access.HasCredentials) http.Response.Headers.WWWAuthenticate = "Basic realm=\"EquivarianceLab jobs\", charset=\"UTF-8\"";
        return false;
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
