using System.Buffers.Text;
using System.Security.Cryptography;
using Scalar.AspNetCore;

namespace EquivarianceLab.Web.Security;

/// <summary>
/// The browser-side defences every response carries: a Content-Security-Policy that lets scripts come only from this
/// origin (no inline script without this response's nonce, never <c>eval</c>), no framing, no MIME sniffing, no referrer.
/// The headers are written just before the response starts, so whatever produced it (a page, static files, the API, the
/// error page after the exception handler cleared the response, Hangfire, Scalar) gets them.
/// </summary>
public static class SecurityHeaders
{
    private const string NonceKey = "EquivarianceLab.ScriptNonce";

    /// <summary>
    /// The policy, with the given nonces (empty or null ones left out) allowed for inline scripts. Styles allow inline:
    /// MudBlazor writes style attributes and a theme &lt;style&gt;, ApexCharts injects its stylesheet and styles its SVG.
    /// <c>connect-src 'self'</c> covers Blazor's WebSocket to the same host (CSP3: 'self' matches ws/wss of the page's
    /// host). <c>data:</c> and <c>blob:</c> images are the charts' PNG export.
    /// </summary>
    public static string Policy(params string?[] nonces)
    {
        var scripts = string.Concat(nonces.Where(n => !string.IsNullOrEmpty(n)).Select(n => $" 'nonce-{n}'"));
        return $"default-src 'self'; script-src 'self'{scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
            "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";
    }

    /// <summary>Registers the headers for every response; first in the pipeline, before anything can answer.</summary>
    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        context.Response.OnStarting(() =>
        {
            Write(context);
            return Task.CompletedTask;
        });
        return next(context);
    });

    /// <summary>Scalar's page runs one inline module script; Scalar makes a fresh nonce per request for it (read in <see cref="Write"/>).</summary>
    public static IServiceCollection AddSecurityHeaders(this IServiceCollection services) =>
        services.Configure<ScalarOptions>(o => o.WithNonce());

    /// <summary>
    /// The nonce an inline script of this response must carry (Blazor's import map): made on first use, random per
    /// request, and added to the policy's <c>script-src</c>. Null without a request.
    /// </summary>
    public static string? ScriptNonce(HttpContext? context)
    {
        if (context is null) return null;
        if (context.Items[NonceKey] is not string nonce)
            // base64url: nothing in it needs HTML-encoding in the attribute.
            context.Items[NonceKey] = nonce = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));
        return nonce;
    }

    private static void Write(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = Policy(context.Items[NonceKey] as string, context.Items[ScalarOptions.NonceHttpContextItemKey] as string);
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        // For browsers without CSP frame-ancestors; replaces the SAMEORIGIN that antiforgery writes.
        headers.XFrameOptions = "DENY";
    }
}
