using EquivarianceLab.Web.Data;
using Microsoft.EntityFrameworkCore;

namespace EquivarianceLab.Web.Accounts;

/// <summary>
/// <c>eqlab users add</c>: makes an account in the server's own database, found through the server's own settings
/// (appsettings.json beside the checkout or publish folder, <c>EquivarianceLab__*</c> and <c>ConnectionStrings__*</c>
/// in the environment), without starting the server.
/// </summary>
public static class UserAdministration
{
    public static async Task<NewAccount> AddAsync(string userName, string role, string? password, CancellationToken ct = default)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = ContentRoot.Find([]) });
        builder.AddEquivarianceLab();
        await using var app = builder.Build();
        await using var scope = app.Services.CreateAsyncScope();
        await using (var db = await scope.ServiceProvider.GetRequiredService<IDbContextFactory<AppDbContext>>().CreateDbContextAsync(ct))
            await db.Database.MigrateAsync(ct);
        try { return await scope.ServiceProvider.GetRequiredService<AccountService>().AddUserAsync(userName, role, password, ct); }
        catch (Api.RequestException e) { throw new EquivarianceLabException(e.Message, e); }
    }
}
