using System.Text;
using System.Text.Json;
using EquivarianceLab.Web.Catalog;
using EquivarianceLab.Web.Data;
using EquivarianceLab.Web.Jobs;
using EquivarianceLab.Web.Results;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.EntityFrameworkCore;
using Microsoft.Net.Http.Headers;

namespace EquivarianceLab.Web.Api;

/// <summary>The HTTP API for scripts (issue 4 item 6). Every user error is 400 {"error": "…"}.</summary>
public static class ApiEndpoints
{
    /// <summary>Room for multipart boundaries and the small form fields on top of the file itself.</summary>
    private const long MultipartOverhead = 1 << 20;
    private const int MaxFieldLength = 4096;

    public static IEndpointRouteBuilder MapEquivarianceLabApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api").AddEndpointFilter(async (ctx, next) =>
        {
            try { return await next(ctx); }
            catch (RequestException e) { return Error(e.Message); }
        }).DisableAntiforgery();

        api.MapGet("/models", async (IDbContextFactory<AppDbContext> dbf, CancellationToken ct) =>
        {
            await using var db = await dbf.CreateDbContextAsync(ct);
            var models = await db.Models.AsNoTracking().OrderBy(m => m.Source).ThenBy(m => m.Name).ToListAsync(ct);
            return Microsoft.AspNetCore.Http.Results.Json(models.Select(ModelDto.From), ApiJson.Options);
        });
        api.MapGet("/models/{id}", async (string id, IDbContextFactory<AppDbContext> dbf, CancellationToken ct) =>
        {
            await using var db = await dbf.CreateDbContextAsync(ct);
            var m = await db.Models.AsNoTracking().FirstOrDefaultAsync(x => x.Id == id, ct);
            return m is null ? NotFound($"No model with id '{id}'.") : Microsoft.AspNetCore.Http.Results.Json(ModelDto.From(m), ApiJson.Options);
        });
        api.MapPost("/models", async (HttpContext http, ModelStore store, LabOptions options, CancellationToken ct) =>
        {
            var form = await ReadMultipartAsync(http, options, ModelStoreCheck, ct);
            var upload = new ModelUpload
            {
                FileName = form.FileName,
                Architecture = form.Field("architecture"),
                Name = form.Field("name"),
                Accuracy = ParseAccuracy(form.Field("accuracy")),
                InputShape = form.Field("inputShape"),
                Preprocessing = form.Field("preprocessing"),
                Family = form.Field("family"),
            };
            var entry = await store.AddAsync(form.File!, upload, ct);
            return Microsoft.AspNetCore.Http.Results.Json(ModelDto.From(entry), ApiJson.Options, statusCode: StatusCodes.Status201Created);
        });
        api.MapMethods("/models/{id}", ["PATCH"], async (string id, HttpContext http, ModelStore store, CancellationToken ct) =>
        {
            var body = await ReadJsonAsync<AccuracyDto>(http, ct);
            return await store.SetAccuracyAsync(id, body.Accuracy, ct) ? Microsoft.AspNetCore.Http.Results.NoContent() : NotFound($"No model with id '{id}'.");
        });

        api.MapGet("/probesets", async (IDbContextFactory<AppDbContext> dbf, CancellationToken ct) =>
        {
            await using var db = await dbf.CreateDbContextAsync(ct);
            var sets = await db.ProbeSets.AsNoTracking().OrderByDescending(p => p.IsDefault).ThenBy(p => p.Name).ToListAsync(ct);
            return Microsoft.AspNetCore.Http.Results.Json(sets.Select(ProbeSetDto.From), ApiJson.Options);
        });
        api.MapPost("/probesets", async (HttpContext http, ProbeSetStore store, LabOptions options, CancellationToken ct) =>
        {
            var form = await ReadMultipartAsync(http, options, name => ProbeSetStore.CheckFields(name), ct);
            var entry = await store.AddAsync(form.File!, form.FileName, form.Field("name"), ct);
            return Microsoft.AspNetCore.Http.Results.Json(ProbeSetDto.From(entry), ApiJson.Options, statusCode: StatusCodes.Status201Created);
        });

        api.MapGet("/runs", async (IDbContextFactory<AppDbContext> dbf, CancellationToken ct) =>
        {
            await using var db = await dbf.CreateDbContextAsync(ct);
            var runs = await db.Runs.AsNoTracking().OrderByDescending(r => r.Id).Take(1000).ToListAsync(ct);
            return Microsoft.AspNetCore.Http.Results.Json(runs.Select(r => RunDto.From(r, withResult: false)), ApiJson.Options);
        });
        api.MapPost("/runs", async (HttpContext http, RunQueue queue, CancellationToken ct) =>
        {
            var request = await ReadJsonAsync<RunRequest>(http, ct);
            var run = await queue.QueueAsync(request, ct);
            return Microsoft.AspNetCore.Http.Results.Json(new CreatedRunDto(run.Id), ApiJson.Options, statusCode: StatusCodes.Status201Created);
        });
        api.MapGet("/runs/{id:int}", async (int id, IDbContextFactory<AppDbContext> dbf, CancellationToken ct) =>
        {
            await using var db = await dbf.CreateDbContextAsync(ct);
            var run = await db.Runs.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, ct);
            return run is null ? NotFound($"No run {id}.") : Microsoft.AspNetCore.Http.Results.Json(RunDto.From(run), ApiJson.Options);
        });
        api.MapGet("/runs/{id:int}.csv", async (int id, IDbContextFactory<AppDbContext> dbf, CancellationToken ct) =>
        {
            var run = await DoneRunAsync(dbf, id, ct);
            if (run is null) return NotFound($"Run {id} has no result.");
            var csv = ResultStore.ToCsv(run, EquivarianceLab.Measure.MeasurementResult.FromJson(run.ResultJson!));
            return Microsoft.AspNetCore.Http.Results.File(Encoding.UTF8.GetBytes(csv), "text/csv; charset=utf-8", $"run-{id}.csv");
        });
        api.MapGet("/runs/{id:int}.json", async (int id, IDbContextFactory<AppDbContext> dbf, CancellationToken ct) =>
        {
            var run = await DoneRunAsync(dbf, id, ct);
            return run is null
                ? NotFound($"Run {id} has no result.")
                : Microsoft.AspNetCore.Http.Results.File(Encoding.UTF8.GetBytes(run.ResultJson!), "application/json", $"run-{id}-result.json");
        });
        api.MapPost("/runs/{id:int}/cancel", async (int id, RunQueue queue, CancellationToken ct) =>
            await queue.CancelAsync(id, ct) ? Microsoft.AspNetCore.Http.Results.Accepted() : Error($"Run {id} is not queued or running."));
        api.MapPost("/runs/{id:int}/rerun", async (int id, RunQueue queue, CancellationToken ct) =>
        {
            var run = await queue.RerunAsync(id, ct);
            return Microsoft.AspNetCore.Http.Results.Json(new CreatedRunDto(run.Id), ApiJson.Options, statusCode: StatusCodes.Status201Created);
        });

        // Thumbnails are found by probe set id in the database; the URL never names a file.
        app.MapGet("/thumbnails/{probeSetId}/{index:int}.png", async (string probeSetId, int index, ProbeSetStore store, CancellationToken ct) =>
            await store.ThumbnailPathAsync(probeSetId, index, ct) is { } path ? Microsoft.AspNetCore.Http.Results.File(path, "image/png") : Microsoft.AspNetCore.Http.Results.NotFound());
        return app;
    }

    private static string ModelStoreCheck(string fileName)
    {
        var ext = Path.GetExtension(fileName);
        return ModelStore.Formats.ContainsKey(ext)
            ? ext
            : throw new RequestException($"Unsupported model file '{ModelStore.SafeName(fileName)}': use .onnx, .dat, .pt, .pth or .safetensors.");
    }

    private static async Task<Run?> DoneRunAsync(IDbContextFactory<AppDbContext> dbf, int id, CancellationToken ct)
    {
        await using var db = await dbf.CreateDbContextAsync(ct);
        return await db.Runs.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id && r.ResultJson != null, ct);
    }

    internal static IResult Error(string message, int status = StatusCodes.Status400BadRequest) =>
        Microsoft.AspNetCore.Http.Results.Json(new ErrorDto(message), ApiJson.Options, statusCode: status);

    private static IResult NotFound(string message) => Error(message, StatusCodes.Status404NotFound);

    private static double? ParseAccuracy(string? s)
    {
        if (string.IsNullOrWhiteSpace(s)) return null;
        return double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v)
            ? v : throw new RequestException($"accuracy must be a number (got '{ModelStore.CleanName(s)}').");
    }

    /// <summary>Largest JSON body the API reads (a run request or an accuracy is a few hundred bytes).</summary>
    internal const long MaxJsonBytes = 64 * 1024;

    /// <summary>
    /// Reads a small JSON body. An oversized (by Content-Length) or non-JSON request is refused before the body is read;
    /// a body without Content-Length is cut off at the same limit while it is read.
    /// </summary>
    private static async Task<T> ReadJsonAsync<T>(HttpContext http, CancellationToken ct) where T : class
    {
        if (http.Request.ContentLength is > MaxJsonBytes) throw new RequestException($"The request body is too large (at most {MaxJsonBytes / 1024} KiB of JSON).");
        if (!MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var type)
            || !(type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || type.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase)))
            throw new RequestException("Send the request body as JSON (Content-Type: application/json).");
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature) sizeFeature.MaxRequestBodySize = MaxJsonBytes;
        try
        {
            return await JsonSerializer.DeserializeAsync<T>(http.Request.Body, ApiJson.Options, ct)
                   ?? throw new RequestException("The request body is empty.");
        }
        catch (JsonException e)
        {
            // Our own words: System.Text.Json's messages name .NET types and parser internals.
            var where = e.Path is { Length: > 1 } path ? $" (the value of {path[2..]} is wrong)" : e.LineNumber is { } line ? $" (line {line + 1}, byte {e.BytePositionInLine + 1})" : "";
            throw new RequestException($"The request body is not valid JSON for this request{where}.");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new RequestException($"The request body is too large (at most {MaxJsonBytes / 1024} KiB of JSON).");
        }
    }

    /// <summary>An unexpected failure in the API: logged with its stack trace, answered with a request id only.</summary>
    internal static async Task WriteUnexpectedErrorAsync(HttpContext http)
    {
        var feature = http.Features.Get<Microsoft.AspNetCore.Diagnostics.IExceptionHandlerFeature>();
        var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("EquivarianceLab.Web.Api");
        if (feature?.Error is { } error) logger.LogError(error, "Unhandled error in {Path} (request {RequestId}).", http.Request.Path, http.TraceIdentifier);
        http.Response.StatusCode = StatusCodes.Status500InternalServerError;
        await http.Response.WriteAsJsonAsync(new ErrorDto($"Internal error; the server log has the details (request {http.TraceIdentifier})."), ApiJson.Options);
    }

    internal sealed class MultipartForm
    {
        public UploadWriter.Incoming? File { get; set; }
        public string FileName { get; set; } = "";
        public Dictionary<string, string> Fields { get; } = new(StringComparer.OrdinalIgnoreCase);
        public string? Field(string name) => Fields.TryGetValue(name, out var v) && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;
    }

    /// <summary>
    /// Streams a multipart body: the "file" part goes straight to a temporary file (hashed, size-limited), the other parts
    /// are small text fields, in any order. Oversized or malformed requests are refused before the body is read.
    /// </summary>
    private static async Task<MultipartForm> ReadMultipartAsync(HttpContext http, LabOptions options, Func<string, string> checkFileName, CancellationToken ct)
    {
        var limit = options.MaxUploadBytes + MultipartOverhead;
        if (http.Request.ContentLength is { } length && length > limit)
            throw new RequestException($"The upload is larger than the limit of {UploadWriter.Format(options.MaxUploadBytes)}.");
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature) sizeFeature.MaxRequestBodySize = limit;
        if (!MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var contentType)
            || !contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            throw new RequestException("Send the file as multipart/form-data with a field named 'file'.");
        var boundary = HeaderUtilities.RemoveQuotes(contentType.Boundary).Value;
        if (string.IsNullOrEmpty(boundary)) throw new RequestException("The multipart request has no boundary.");

        var form = new MultipartForm();
        var paths = http.RequestServices.GetRequiredService<LabPaths>();
        var reader = new MultipartReader(boundary, http.Request.Body) { HeadersLengthLimit = 16 * 1024 };
        try
        {
            MultipartSection? section;
            while ((section = await reader.ReadNextSectionAsync(ct)) is not null)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)) continue;
                var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
                if (disposition.IsFileDisposition() && name.Equals("file", StringComparison.OrdinalIgnoreCase))
                {
                    if (form.File is not null) throw new RequestException("Send one file per request.");
                    var fileName = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value ?? "";
                    checkFileName(fileName);
                    form.FileName = fileName;
                    form.File = await UploadWriter.SaveAsync(section.Body, paths.Incoming, options.MaxUploadBytes, ct);
                }
                else if (disposition.IsFormDisposition())
                {
                    using var sr = new StreamReader(section.Body, Encoding.UTF8);
                    var buffer = new char[MaxFieldLength + 1];
                    var read = await sr.ReadBlockAsync(buffer, ct);
                    if (read > MaxFieldLength) throw new RequestException($"The field '{ModelStore.CleanName(name)}' is too long.");
                    form.Fields[name] = new string(buffer, 0, read);
                }
            }
        }
        catch (Exception e) when (e is not RequestException and not OperationCanceledException)
        {
            if (form.File is not null) UploadWriter.TryDelete(form.File.TempPath);
            throw new RequestException(e is BadHttpRequestException { StatusCode: 413 }
                ? $"The upload is larger than the limit of {UploadWriter.Format(options.MaxUploadBytes)}."
                : $"The multipart request could not be read: {e.Message}");
        }
        catch
        {
            if (form.File is not null) UploadWriter.TryDelete(form.File.TempPath);
            throw;
        }
        if (form.File is null) throw new RequestException("No file: send it in a multipart field named 'file'.");
        return form;
    }
}
