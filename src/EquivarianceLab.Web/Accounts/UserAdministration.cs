using EquivarianceLab.Web.Data;

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
        await using var app = DatabaseAdministration.BuildServerServices();
        await using var scope = app.Services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<StartupLock>().MigrateAsync(ct);
        try { return await scope.ServiceProvider.GetRequiredService<AccountService>().AddUserAsync(userName, role, password, ct); }
        catch (Api.RequestException e) { throw new EquivarianceLabException(e.Message, e); }
    }
}
