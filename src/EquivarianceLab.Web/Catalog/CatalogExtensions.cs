namespace EquivarianceLab.Web.Catalog;

public static class CatalogExtensions
{
    /// <summary>Zoo registration and the upload stores for models and probe sets.</summary>
    public static IServiceCollection AddEquivarianceLabCatalog(this IServiceCollection services)
    {
        services.AddSingleton<ZooRegistrar>();
        services.AddSingleton<ModelStore>();
        services.AddSingleton<ProbeSetStore>();
        return services;
    }
}
