using System.Text;
using System.Text.Json;
using EquivarianceLab.Web.Uploads;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace EquivarianceLab.Web.Api;

/// <summary>
/// Reads request bodies for the endpoints: small JSON bodies and streamed multipart uploads, each refused from its
/// headers (size, content type) before the body is read where that is possible.
/// </summary>
public static class ApiRequests
{
    /// <summary>Room for multipart boundaries and the small form fields on top of the file itself.</summary>
    private const long MultipartOverhead = 1 << 20;
    private const int MaxFieldLength = 4096;

    /// <summary>Most parts of an upload (the file and its few fields): a form of 480,000 fields is refused, not read.</summary>
    internal const int MaxFormParts = 32;

    /// <summary>Largest JSON body the API reads (a run request or an accuracy is a few hundred bytes).</summary>
    internal const long MaxJsonBytes = 64 * 1024;

    /// <summary>
    /// Reads a small JSON body. An oversized (by Content-Length) or non-JSON request is refused before the body is read;
    /// a body without Content-Length is cut off at the same limit while it is read.
    /// </summary>
    public static async Task<T> ReadJsonAsync<T>(HttpContext http, CancellationToken ct) where T : class
    {
        if (http.Request.ContentLength is > MaxJsonBytes) throw RequestException.TooLarge($"The request body is too large (at most {MaxJsonBytes / 1024} KiB of JSON).");
        if (!MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var type)
            || !(type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase) || type.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase)))
            throw new RequestException("Send the request body as JSON (Content-Type: application/json).", StatusCodes.Status415UnsupportedMediaType);
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
            throw RequestException.TooLarge($"The request body is too large (at most {MaxJsonBytes / 1024} KiB of JSON).");
        }
    }

    public sealed class MultipartForm
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
    public static async Task<MultipartForm> ReadMultipartAsync(HttpContext http, LabOptions options, Func<string, string> checkFileName, CancellationToken ct)
    {
        var limit = options.MaxUploadBytes + MultipartOverhead;
        if (http.Request.ContentLength is { } length && length > limit)
            throw RequestException.TooLarge($"The upload is larger than the limit of {UploadWriter.Format(options.MaxUploadBytes)}.");
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature) sizeFeature.MaxRequestBodySize = limit;
        if (!MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var contentType)
            || !contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase))
            throw new RequestException("Send the file as multipart/form-data with a field named 'file'.", StatusCodes.Status415UnsupportedMediaType);
        var boundary = HeaderUtilities.RemoveQuotes(contentType.Boundary).Value;
        if (string.IsNullOrEmpty(boundary)) throw new RequestException("The multipart request has no boundary.");

        var form = new MultipartForm();
        var paths = http.RequestServices.GetRequiredService<LabPaths>();
        var reader = new MultipartReader(boundary, http.Request.Body) { HeadersLengthLimit = 16 * 1024 };
        try
        {
            MultipartSection? section;
            var parts = 0;
            while ((section = await reader.ReadNextSectionAsync(ct)) is not null)
            {
                if (++parts > MaxFormParts) throw new RequestException($"Too many form fields: an upload has the file and at most {MaxFormParts - 1} fields.");
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
                    if (read > MaxFieldLength) throw new RequestException($"The field '{UploadNames.CleanName(name)}' is too long.");
                    form.Fields[name] = new string(buffer, 0, read);
                }
            }
        }
        catch (Exception e) when (e is not RequestException and not OperationCanceledException)
        {
            if (form.File is not null) Storage.LocalFiles.TryDelete(form.File.TempPath);
            throw e is BadHttpRequestException { StatusCode: 413 }
                ? RequestException.TooLarge($"The upload is larger than the limit of {UploadWriter.Format(options.MaxUploadBytes)}.")
                : new RequestException($"The multipart request could not be read: {e.Message}");
        }
        catch
        {
            if (form.File is not null) Storage.LocalFiles.TryDelete(form.File.TempPath);
            throw;
        }
        if (form.File is null) throw RequestException.Invalid("file", "No file: send it in a multipart field named 'file'.");
        return form;
    }
}
