namespace EquivarianceLab.Web.Storage;

public static class StorageExtensions
{
    /// <summary>The configured store (a folder by default, or S3) and the service every feature keeps and reads files through.</summary>
    public static IServiceCollection AddEquivarianceLabStorage(this IServiceCollection services, LabOptions options, LabPaths paths)
    {
        if (options.Storage.IsS3) services.AddSingleton<IObjectStore>(_ => new S3ObjectStore(options.Storage.S3));
        else services.AddSingleton<IObjectStore>(new FolderObjectStore(paths.Store));
        services.AddSingleton<StoredFiles>();
        services.AddSingleton<LegacyFiles>();
        return services;
    }
}
