using EquivarianceLab.Web.ProbeSets;
using EquivarianceLab.Web.Models;

namespace EquivarianceLab.Web.Startup;

public static class CatalogExtensions
{
    /// <summary>The model and probe set services (uploads, queries, and the zoo and built-in probe set registered at start).</summary>
    public static IServiceCollection AddEquivarianceLabCatalog(this IServiceCollection services)
    {
        services.AddSingleton<ModelService>();
        services.AddSingleton<ProbeSetService>();
        return services;
    }
}
