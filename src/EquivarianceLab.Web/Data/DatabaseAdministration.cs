using Microsoft.AspNetCore.Builder;

namespace EquivarianceLab.Web.Data;

/// <summary>
/// Work on the server's database from the command line (<c>eqlab db migrate</c>, <c>eqlab users add</c>), with the
/// server's own settings (appsettings.json beside the checkout or publish folder, <c>EquivarianceLab__*</c> and
/// <c>ConnectionStrings__*</c> in the environment) and without starting the server.
/// </summary>
public static class DatabaseAdministration
{
    /// <summary>
    /// Applies the committed migrations under the start-up lock (so it is safe while nodes start) and returns the
    /// names of those it applied (none when the database was up to date).
    /// </summary>
    public static async Task<IReadOnlyList<string>> MigrateAsync(CancellationToken ct = default)
    {
        await using var app = BuildServerServices();
        var startup = app.Services.GetRequiredService<StartupLock>();
        IReadOnlyList<string> applied = [];
        await startup.RunAsync(async token =>
        {
            applied = await startup.PendingMigrationsAsync(token);
            await startup.ApplyMigrationsAsync(token);
        }, ct);
        return applied;
    }

    /// <summary>The server's services, configured as the server would be, but not started.</summary>
    internal static WebApplication BuildServerServices()
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = ContentRoot.Find([]) });
        builder.AddEquivarianceLab();
        return builder.Build();
    }
}
