using System.Text.Json;

namespace EquivarianceLab.Web.Components.Shared;

/// <summary>Reads what is wrong from the API's problem details (<c>detail</c>, else <c>title</c>).</summary>
public static class ApiError
{
    public static string? Read(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return null;
            return root.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString()
                : root.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        }
        catch (JsonException) { return null; }
    }
}
