using System.Text.Json;
using System.Text.Json.Serialization;

namespace EquivarianceLab.Web.Api;

/// <summary>The API's JSON: camelCase, nulls written, shapes like 1×28×28 and model names kept readable (it only ever serves JSON).</summary>
public static class ApiJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    /// <summary>Applies the API's settings to a serializer's options (the endpoints' and the pages' alike).</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        options.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        return options;
    }
}
