using Microsoft.AspNetCore.Identity;

namespace EquivarianceLab.Web.Accounts;

/// <summary>A person with an account (ASP.NET Core Identity); the role (member or admin) is an Identity role.</summary>
public sealed class LabUser : IdentityUser;

/// <summary>
/// A personal API token (for scripts and <c>eqlab</c>): only its SHA-256 is stored, so the database never holds a
/// usable secret; the token itself is shown once, when it is made.
/// </summary>
public sealed class ApiToken
{
    public int Id { get; set; }
    public required string UserId { get; set; }
    public required string Name { get; set; }
    /// <summary>Lower-case hex SHA-256 of the token.</summary>
    public required string Hash { get; set; }
    public DateTime CreatedUtc { get; set; }
    public DateTime? LastUsedUtc { get; set; }
    public DateTime? RevokedUtc { get; set; }
}

/// <summary>The two roles: members work with their own things, admins with everything.</summary>
public static class Roles
{
    public const string Member = "member";
    public const string Admin = "admin";
    public static readonly string[] All = [Member, Admin];
}
