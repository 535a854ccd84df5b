using System.Net;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Data;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;

namespace EquivarianceLab.Web.Accounts;

/// <summary>Identity on the app database, cookie sign-in for pages, API tokens for scripts, and the three policies.</summary>
public static class AccountsExtensions
{
    /// <summary>Pages, shared links and GETs: everyone when anonymous reading is on, else the signed-in.</summary>
    public const string Read = "read";
    /// <summary>Uploading, queueing, and changing one's own things.</summary>
    public const string Member = "member";
    /// <summary>Everything, including zoo accuracies and the Hangfire dashboard.</summary>
    public const string Admin = "admin";

    private const string Selector = "lab";

    public static IServiceCollection AddEquivarianceLabAccounts(this IServiceCollection services, LabOptions options)
    {
        // Identity's stores take the context as a scoped service; the app's services use the factory.
        services.AddScoped<AppDbContext>(sp => sp.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<AppDbContext>>().CreateDbContext());
        services.AddIdentityCore<LabUser>(o =>
            {
                o.Password.RequiredLength = 10;
                o.Password.RequireNonAlphanumeric = false;
                o.Lockout.MaxFailedAccessAttempts = 10;
                o.Lockout.DefaultLockoutTimeSpan = TimeSpan.FromMinutes(5);
                o.User.AllowedUserNameCharacters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._@";
            })
            .AddRoles<IdentityRole>()
            .AddEntityFrameworkStores<AppDbContext>()
            .AddSignInManager();
        services.AddScoped<AccountService>();
        services.AddSingleton<LocalAccess>();
        services.AddAuthentication(o =>
            {
                o.DefaultScheme = Selector;
                o.DefaultChallengeScheme = Selector;
            })
            // A bearer token if one is sent, else the sign-in cookie.
            .AddPolicyScheme(Selector, null, o => o.ForwardDefaultSelector = http =>
                http.Request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
                    ? ApiTokenHandler.SchemeName : IdentityConstants.ApplicationScheme)
            .AddScheme<AuthenticationSchemeOptions, ApiTokenHandler>(ApiTokenHandler.SchemeName, null)
            .AddIdentityCookies();
        services.ConfigureApplicationCookie(o =>
        {
            o.LoginPath = "/account/login";
            o.Cookie.Name = "eqlab.auth";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.SlidingExpiration = true;
            o.ExpireTimeSpan = TimeSpan.FromDays(14);
            // The API answers 401/403 as problems; only pages are sent to the sign-in page.
            o.Events.OnRedirectToLogin = ctx => IsApi(ctx.Request) ? Problem(ctx.HttpContext, StatusCodes.Status401Unauthorized, "Sign in or send an API token (Authorization: Bearer …).") : Redirect(ctx);
            o.Events.OnRedirectToAccessDenied = ctx => IsApi(ctx.Request) ? Problem(ctx.HttpContext, StatusCodes.Status403Forbidden, "Your account may not do this.") : Redirect(ctx);
        });
        services.AddAuthorizationBuilder()
            .AddPolicy(Read, p => p.RequireAssertion(ctx => options.Access.AnonymousRead || ctx.User.Identity?.IsAuthenticated == true))
            .AddPolicy(Member, p => p.RequireRole(Roles.Member, Roles.Admin))
            .AddPolicy(Admin, p => p.RequireRole(Roles.Admin));
        services.AddCascadingAuthenticationState();
        services.Configure<ForwardedHeadersOptions>(o =>
        {
            // Only the configured proxies are believed; with none, forwarded headers change nothing.
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            o.KnownIPNetworks.Clear();
            o.KnownProxies.Clear();
            foreach (var proxy in options.Access.KnownProxies) o.KnownProxies.Add(IPAddress.Parse(proxy));
        });
        return services;
    }

    /// <summary>Forwarded headers (from known proxies only), authentication, the implicit local admin, authorization.</summary>
    public static WebApplication UseEquivarianceLabAccounts(this WebApplication app)
    {
        app.UseForwardedHeaders();
        app.UseAuthentication();
        var local = app.Services.GetRequiredService<LocalAccess>();
        app.Use(async (http, next) =>
        {
            if (http.User.Identity?.IsAuthenticated != true && await local.IsActiveAsync(http.RequestAborted)) http.User = LocalAccess.Principal;
            await next(http);
        });
        app.UseAuthorization();
        return app;
    }

    /// <summary>Sign-in and sign-out: plain form posts (a cookie cannot be set from an interactive circuit).</summary>
    public static WebApplication MapEquivarianceLabAccounts(this WebApplication app)
    {
        app.MapPost("/account/login", async ([FromForm] string? userName, [FromForm] string? password, [FromForm] string? returnUrl, SignInManager<LabUser> signIn) =>
        {
            var back = LocalUrl(returnUrl);
            var result = string.IsNullOrEmpty(userName) || string.IsNullOrEmpty(password)
                ? Microsoft.AspNetCore.Identity.SignInResult.Failed
                : await signIn.PasswordSignInAsync(userName, password, isPersistent: true, lockoutOnFailure: true);
            return result.Succeeded
                ? TypedResults.LocalRedirect(back)
                : TypedResults.LocalRedirect($"/account/login?failed={(result.IsLockedOut ? "locked" : "1")}&returnUrl={Uri.EscapeDataString(back)}");
        });
        app.MapPost("/account/logout", async (SignInManager<LabUser> signIn) =>
        {
            await signIn.SignOutAsync();
            return TypedResults.LocalRedirect("/");
        });
        return app;
    }

    private static string LocalUrl(string? url) =>
        !string.IsNullOrEmpty(url) && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal) ? url : "/";

    private static bool IsApi(HttpRequest request) => request.Path.StartsWithSegments("/api") || request.Path.StartsWithSegments("/hangfire");

    private static Task Redirect(RedirectContext<Microsoft.AspNetCore.Authentication.Cookies.CookieAuthenticationOptions> ctx)
    {
        ctx.Response.Redirect(ctx.RedirectUri);
        return Task.CompletedTask;
    }

    private static Task Problem(HttpContext http, int status, string detail) => ApiProblems.Problem(detail, status).ExecuteAsync(http);
}
