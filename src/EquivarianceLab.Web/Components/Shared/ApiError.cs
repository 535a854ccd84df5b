using System.Text.Json;

namespace EquivarianceLab.Web.Components.Shared;

/// <summary>Reads the API's {"error": "…"} body.</summary>
public static class ApiError
{
    public static string? Read(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.TryGetProperty("error", out var e) ? e.GetString() : null;
        }
        catch (JsonException) { return null; }
    }
}
