using EquivarianceLab.FeatureModels;
using EquivarianceLab.Web.Accounts;
using System.Security.Claims;
using System.Globalization;
using EquivarianceLab.Web.Api;
using EquivarianceLab.Web.Uploads;
using Microsoft.AspNetCore.Http.HttpResults;

namespace EquivarianceLab.Web.Models;

/// <summary><c>/api/models</c>: list, read, upload (multipart, streamed) and set a model's accuracy.</summary>
public static class ModelEndpoints
{
    public static RouteGroupBuilder MapModelEndpoints(this RouteGroupBuilder api)
    {
        var models = api.MapGroup("/models").WithTags("Models");
        models.MapGet("/", async (ModelService service, CancellationToken ct) =>
            TypedResults.Ok((await service.ListAsync(ct)).Select(ModelDto.From).ToList()))
            .WithSummary("Every model: the zoo's and the uploaded ones.");
        models.MapGet("/{id}", async Task<Results<Ok<ModelDto>, ProblemHttpResult>> (string id, ModelService service, CancellationToken ct) =>
                await service.FindAsync(id, ct) is { } model ? TypedResults.Ok(ModelDto.From(model)) : ApiProblems.NotFound($"No model with id '{UploadNames.ShownId(id)}'."))
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("One model's card facts.");
        models.MapGet("/{id}/layers", async Task<Results<Ok<IReadOnlyList<LayerInfo>>, ProblemHttpResult>> (string id, ModelService service, CancellationToken ct) =>
                await service.LayersAsync(id, ct) is { } layers ? TypedResults.Ok(layers) : ApiProblems.NotFound($"No model with id '{UploadNames.ShownId(id)}'."))
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .WithSummary("A model's measurable layers in forward order: name, shape (per image), op (the ONNX node type; null for a hook point), the part the default selection gives it, and whether it is selected by default (what eqlab measure --list-layers prints).");
        models.MapPost("/", async Task<Created<ModelDto>> (HttpContext http, ClaimsPrincipal user, ModelService service, LabOptions options, CancellationToken ct) =>
            {
                var form = await ApiRequests.ReadMultipartAsync(http, options, CheckFileName, ct);
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
                var entry = await service.AddAsync(form.File!, upload, Caller.From(user), ct);
                return TypedResults.Created($"/api/models/{Uri.EscapeDataString(entry.Id)}", ModelDto.From(entry));
            })
            .WithMultipartBody("architecture", "name", "accuracy", "inputShape", "preprocessing", "family")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .WithSummary("Upload a model (.onnx, .dat, .pt, .pth, .safetensors) with optional fields architecture, name, accuracy, inputShape, preprocessing, family; it is opened before it is kept.")
            .RequireRateLimiting(RateLimiting.Uploads)
            .RequireAuthorization(AccountsExtensions.Member);
        models.MapPatch("/{id}", async Task<Results<NoContent, ProblemHttpResult>> (string id, HttpContext http, ClaimsPrincipal user, ModelService service, CancellationToken ct) =>
            {
                var body = await ApiRequests.ReadJsonAsync<AccuracyDto>(http, ct);
                return await service.SetAccuracyAsync(id, body.Accuracy, Caller.From(user), ct) ? TypedResults.NoContent() : ApiProblems.NotFound($"No model with id '{UploadNames.ShownId(id)}'.");
            })
            .WithJsonBody<AccuracyDto>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Set (or clear, with null) a model's test accuracy in percent (its owner, or an admin for zoo models).")
            .RequireAuthorization(AccountsExtensions.Member);
        return api;
    }

    private static string CheckFileName(string fileName)
    {
        var ext = Path.GetExtension(fileName);
        return ModelService.Formats.ContainsKey(ext)
            ? ext
            : throw RequestException.Invalid("file", $"Unsupported model file '{UploadNames.SafeName(fileName)}': use .onnx, .dat, .pt, .pth or .safetensors.");
    }

    private static double? ParseAccuracy(string? s)
    {
        if (string.IsNullOrWhiteSpace(s)) return null;
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)
            ? v : throw RequestException.Invalid("accuracy", $"accuracy must be a number (got '{UploadNames.CleanName(s)}').");
    }
}
