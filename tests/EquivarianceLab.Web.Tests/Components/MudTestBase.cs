using EquivarianceLab.Web.Storage;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Compare;
using EquivarianceLab.Web.Models;
using EquivarianceLab.Web.ProbeSets;
using EquivarianceLab.Web.Runs;
using EquivarianceLab.Web.Results;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Tests.Fakes;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MudBlazor.Services;

namespace EquivarianceLab.Web.Tests.Components;

/// <summary>
/// The one bUnit base: MudBlazor services and loose JS interop registered once, the app's services over a real
/// SQLite file in a fresh temp folder, the library replaced by <see cref="FakeMeasurementRunner"/> and Hangfire by a recorder.
/// </summary>
public abstract class MudTestBase : BunitContext, IAsyncLifetime
{
    protected string Folder { get; } = Path.Combine(Path.GetTempPath(), "eqlab-bunit-" + Guid.NewGuid().ToString("N"));
    protected FakeMeasurementRunner Runner { get; } = new();
    protected RecordingJobClient Jobs { get; } = new();
    protected IDbContextFactory<AppDbContext> DbFactory { get; }

    protected MudTestBase()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
        var options = new LabOptions { DataFolder = Folder };
        var paths = new LabPaths(Folder, options);
        paths.EnsureCreated();
        Services.AddSingleton(options);
        Services.AddSingleton(paths);
        Services.AddSingleton(TimeProvider.System);
        Services.AddSingleton<EquivarianceLab.Web.Security.SafeText>();
        Services.AddSingleton<EquivarianceLab.Web.Uploads.ContentLocks>();
        Services.AddSingleton<EquivarianceLab.Web.Uploads.UploadQuota>();
        Services.AddEquivarianceLabStorage(options, paths);
        // The pages act as the local admin of a server without accounts, as the one-command default does.
        AddAuthorization().SetAuthorized("local admin").SetRoles(EquivarianceLab.Web.Accounts.Roles.Admin);
        Services.AddScoped<EquivarianceLab.Web.Accounts.PageCaller>();
        Services.AddSingleton<ILoggerFactory>(NullLoggerFactory.Instance);
        Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        Services.AddDbContextFactory<SqliteAppDbContext>(o => o.UseSqlite($"Data Source={paths.AppDatabase};Pooling=False"));
        Services.AddSingleton<IDbContextFactory<AppDbContext>>(sp => new UpcastFactory(sp.GetRequiredService<IDbContextFactory<SqliteAppDbContext>>()));
        Services.AddSingleton<IMeasurementRunner>(Runner);
        Services.AddSingleton<IBackgroundJobClient>(Jobs);
        Services.AddSingleton<RunProgressNotifier>();
        Services.AddSingleton<RunChangeSignal>();
        Services.AddSingleton<CancellationRegistry>();
        Services.AddSingleton<RunService>();
        Services.AddSingleton<FeatureMapService>();
        Services.AddSingleton<ModelService>();
        Services.AddSingleton<ProbeSetService>();
        Services.AddSingleton<CompareService>();
        DbFactory = Services.GetRequiredService<IDbContextFactory<AppDbContext>>();
        using var db = DbFactory.CreateDbContext();
        db.Database.Migrate();
    }

    /// <summary>Renders a page at a URL: query-string state arrives the way a shared link delivers it.</summary>
    protected IRenderedComponent<T> RenderAt<T>(string relativeUri, Action<ComponentParameterCollectionBuilder<T>>? parameters = null)
        where T : Microsoft.AspNetCore.Components.IComponent
    {
        Services.GetRequiredService<Microsoft.AspNetCore.Components.NavigationManager>().NavigateTo(relativeUri);
        return parameters is null ? Render<T>() : Render<T>(parameters);
    }

    private sealed class UpcastFactory(IDbContextFactory<SqliteAppDbContext> inner) : IDbContextFactory<AppDbContext>
    {
        public AppDbContext CreateDbContext() => inner.CreateDbContext();
    }

    protected ModelEntry AddModel(string id, string name, double? accuracy, string family = "CNN", string? accuracyDataset = null)
    {
        using var db = DbFactory.CreateDbContext();
        var m = new ModelEntry
        {
            Id = id, Name = name, Family = family, Format = "onnx", Source = Sources.Zoo, FileName = id + ".onnx",
            CardJson = $$"""{"id":"{{id}}","displayName":"{{name}}","format":"onnx","file":"{{id}}.onnx","inputShape":[1,28,28]}""",
            InputShape = "1×28×28", Accuracy = accuracy, AccuracyDataset = accuracyDataset, Provenance = "test", AddedUtc = DateTime.UtcNow,
        };
        db.Models.Add(m);
        db.SaveChanges();
        return m;
    }

    protected ProbeSetEntry AddProbeSet(string id = "fashion-mnist-test", string name = "Fashion-MNIST test (10k)")
    {
        using var db = DbFactory.CreateDbContext();
        var p = new ProbeSetEntry
        {
            Id = id, Name = name, Kind = "idx", Source = Sources.BuiltIn, FileName = "probe.gz", Count = 10000,
            ImageShape = "1×28×28", IsDefault = true, Thumbnails = 4, AddedUtc = DateTime.UtcNow,
        };
        db.ProbeSets.Add(p);
        db.SaveChanges();
        return p;
    }

    /// <summary>A finished run with a synthetic result (changed by <paramref name="edit"/> if given), stored the way the job stores it.</summary>
    protected Run AddDoneRun(string modelId, string transform = "rotation", int seed = 0, string probeId = "fashion-mnist-test", int maxShift = 4,
        Func<MeasurementResult, MeasurementResult>? edit = null)
    {
        using var db = DbFactory.CreateDbContext();
        var options = RunRequest.ToOptions(transform, "pearson", 64, maxShift);
        var run = new Run
        {
            ModelId = modelId, ProbeSetId = probeId, Transform = transform, Similarity = "pearson", Images = 64, MaxShift = maxShift,
            Status = RunStatus.Done, ImagesDone = 64, ImagesTotal = 64, CreatedUtc = DateTime.UtcNow, StartedUtc = DateTime.UtcNow, FinishedUtc = DateTime.UtcNow,
        };
        var result = FakeMeasurementRunner.Synthetic(modelId, probeId, options, seed);
        ResultStore.Store(run, edit is null ? result : edit(result));
        db.Runs.Add(run);
        db.SaveChanges();
        return run;
    }

    protected Run AddRun(string modelId, RunStatus status, string? error = null)
    {
        using var db = DbFactory.CreateDbContext();
        var run = new Run
        {
            ModelId = modelId, ProbeSetId = "fashion-mnist-test", Transform = "rotation", Similarity = "pearson", Images = 64,
            Status = status, Error = error, CreatedUtc = DateTime.UtcNow, ImagesTotal = 64,
        };
        db.Runs.Add(run);
        db.SaveChanges();
        return run;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // MudBlazor's services only dispose asynchronously, so xUnit must dispose the context through IAsyncLifetime.
    async Task IAsyncLifetime.DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}
