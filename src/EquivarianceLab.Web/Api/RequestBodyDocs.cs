using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace EquivarianceLab.Web.Api;

/// <summary>
/// Describes in the OpenAPI document the bodies that endpoints read themselves (so that a wrong content type gets the
/// API's own problem detail, which <c>.Accepts&lt;T&gt;()</c> would replace by routing's bare 415).
/// </summary>
public static class RequestBodyDocs
{
    /// <summary>A JSON body of type <typeparamref name="T"/>.</summary>
    public static RouteHandlerBuilder WithJsonBody<T>(this RouteHandlerBuilder endpoint) =>
        endpoint.AddOpenApiOperationTransformer(async (operation, context, ct) =>
        {
            var schema = await context.GetOrCreateSchemaAsync(typeof(T), null, ct);
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = schema } },
            };
        });

    /// <summary>A multipart form with a binary <c>file</c> and optional text fields.</summary>
    public static RouteHandlerBuilder WithMultipartBody(this RouteHandlerBuilder endpoint, params string[] fields) =>
        endpoint.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            var properties = new Dictionary<string, IOpenApiSchema> { ["file"] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } };
            foreach (var field in fields) properties[field] = new OpenApiSchema { Type = JsonSchemaType.String };
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = new Dictionary<string, OpenApiMediaType>
                {
                    ["multipart/form-data"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.Object, Properties = properties, Required = new HashSet<string> { "file" } } },
                },
            };
            return Task.CompletedTask;
        });
}
