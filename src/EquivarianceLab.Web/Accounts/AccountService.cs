using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Data;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Accounts;

/// <summary>A new account as the command line reports it: the password (when it made one) and a first API token.</summary>
public sealed record NewAccount(string UserName, string Role, string? GeneratedPassword, string ApiToken);

/// <summary>A token as its owner sees it on the tokens page (never the token itself).</summary>
public sealed record TokenInfo(int Id, string Name, DateTime CreatedUtc, DateTime? LastUsedUtc, DateTime? RevokedUtc);

/// <summary>Accounts and personal API tokens: the one owner of the Identity tables and the token table.</summary>
public sealed class AccountService(UserManager<LabUser> users, RoleManager<IdentityRole> roles, IDbContextFactory<AppDbContext> dbFactory, TimeProvider time)
{
    private const string TokenPrefix = "eqlab_";

    /// <summary>Makes an account with a role and a first API token; a password is generated when none is given.</summary>
    public async Task<NewAccount> AddUserAsync(string userName, string role, string? password, CancellationToken ct = default)
    {
        if (!Roles.All.Contains(role)) throw RequestException.Invalid("role", $"role must be {Roles.Member} or {Roles.Admin} (got '{role}').");
        foreach (var r in Roles.All)
            if (!await roles.RoleExistsAsync(r)) Check(await roles.CreateAsync(new IdentityRole(r)));
        var generated = password is null ? NewSecret(18) : null;
        var user = new LabUser { UserName = userName };
        Check(await users.CreateAsync(user, password ?? generated!));
        Check(await users.AddToRoleAsync(user, role));
        var token = await MakeTokenAsync(user.Id, "first token", ct);
        return new NewAccount(userName, role, generated, token);
    }

    /// <summary>Makes a token for the user; the returned text is the only copy (the database keeps its hash).</summary>
    public async Task<string> MakeTokenAsync(string userId, string name, CancellationToken ct = default)
    {
        var token = TokenPrefix + NewSecret(32);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        db.ApiTokens.Add(new ApiToken { UserId = userId, Name = name.Trim() is { Length: > 0 } n ? n[..Math.Min(n.Length, 120)] : "token", Hash = Hash(token), CreatedUtc = time.GetUtcNow().UtcDateTime });
        await db.SaveChangesAsync(ct);
        return token;
    }

    public async Task<List<TokenInfo>> TokensAsync(string userId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        return await db.ApiTokens.AsNoTracking().Where(t => t.UserId == userId).OrderByDescending(t => t.CreatedUtc)
            .Select(t => new TokenInfo(t.Id, t.Name, t.CreatedUtc, t.LastUsedUtc, t.RevokedUtc)).ToListAsync(ct);
    }

    /// <summary>Revokes one of the user's own tokens; false when the user has no such token.</summary>
    public async Task<bool> RevokeTokenAsync(string userId, int tokenId, CancellationToken ct = default)
    {
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var now = time.GetUtcNow().UtcDateTime;
        return await db.ApiTokens.Where(t => t.Id == tokenId && t.UserId == userId && t.RevokedUtc == null)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.RevokedUtc, now), ct) > 0;
    }

    /// <summary>The account a valid, unrevoked token belongs to, with its roles; null for anything else.</summary>
    public async Task<ClaimsPrincipal?> FindByTokenAsync(string token, CancellationToken ct = default)
    {
        if (!token.StartsWith(TokenPrefix, StringComparison.Ordinal) || token.Length > 128) return null;
        var hash = Hash(token);
        await using var db = await dbFactory.CreateDbContextAsync(ct);
        var found = await db.ApiTokens.Where(t => t.Hash == hash && t.RevokedUtc == null)
            .Join(db.Users, t => t.UserId, u => u.Id, (t, u) => new { Token = t, User = u }).FirstOrDefaultAsync(ct);
        if (found is null) return null;
        var roleNames = await db.UserRoles.Where(ur => ur.UserId == found.User.Id).Join(db.Roles, ur => ur.RoleId, r => r.Id, (_, r) => r.Name!).ToListAsync(ct);
        // Last use to the minute is enough, and spares a write on every request.
        var now = time.GetUtcNow().UtcDateTime;
        if (found.Token.LastUsedUtc is not { } last || now - last > TimeSpan.FromMinutes(1))
        {
            found.Token.LastUsedUtc = now;
            await db.SaveChangesAsync(ct);
        }
        var claims = new List<Claim> { new(ClaimTypes.NameIdentifier, found.User.Id), new(ClaimTypes.Name, found.User.UserName ?? "?") };
        claims.AddRange(roleNames.Select(r => new Claim(ClaimTypes.Role, r)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, ApiTokenHandler.SchemeName));
    }

    internal static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static string NewSecret(int bytes) =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(bytes)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static void Check(IdentityResult result)
    {
        if (!result.Succeeded) throw new RequestException(string.Join(" ", result.Errors.Select(e => e.Description)));
    }
}
