using EquivarianceLab.Web.ProbeSets;
using EquivarianceLab.Web.Models;

namespace EquivarianceLab.Web.Startup;

public static class CatalogExtensions
{
    /// <summary>Zoo registration and the upload stores for models and probe sets.</summary>
    public static IServiceCollection AddEquivarianceLabCatalog(this IServiceCollection services)
    {
        services.AddSingleton<ZooRegistrar>();
        services.AddSingleton<ModelService>();
        services.AddSingleton<ProbeSetService>();
        return services;
    }
}
