using System.Security.Claims;

namespace EquivarianceLab.Web.Accounts;

/// <summary>
/// Who is asking, as the services need it: an account (id, name, role), the implicit local admin (no accounts,
/// loopback only) or an anonymous reader. Built from the request's principal, never from a header the client sets.
/// </summary>
public sealed record Caller(string? UserId, string Name, bool IsAdmin, bool IsMember)
{
    public static readonly Caller Anonymous = new(null, "anonymous", false, false);

    public bool IsSignedIn => IsMember || IsAdmin;

    /// <summary>The name recorded on what this caller makes: an account's; none for the local admin (the lab's own).</summary>
    public string? OwnerName => UserId is null ? null : Name;

    public static Caller From(ClaimsPrincipal user)
    {
        if (user.Identity?.IsAuthenticated != true) return Anonymous;
        var admin = user.IsInRole(Roles.Admin);
        return new Caller(LocalAccess.IsLocal(user) ? null : user.FindFirstValue(ClaimTypes.NameIdentifier),
            user.Identity.Name ?? "?", admin, admin || user.IsInRole(Roles.Member));
    }

    /// <summary>Owners act on their own things; admins on everything; an owner-less thing (zoo, local) is the admins'.</summary>
    public bool MayChange(string? ownerId) => IsAdmin || (IsMember && ownerId is not null && ownerId == UserId);
}

/// <summary>The caller of a page's action: the circuit's signed-in user (or the local admin, or anonymous).</summary>
public sealed class PageCaller(Microsoft.AspNetCore.Components.Authorization.AuthenticationStateProvider auth)
{
    public async Task<Caller> GetAsync() => Caller.From((await auth.GetAuthenticationStateAsync()).User);
}
