using System.Text.Json;
using EquivarianceLab.Cards;

namespace EquivarianceLab.Web.Data;

/// <summary>Model cards as stored in the database (the card's own JSON format).</summary>
public static class CardJson
{
    public static ModelCard Parse(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<ModelCard>(json, ModelCard.JsonOptions) ?? throw new EquivarianceLabException("The stored model card is empty.");
        }
        catch (JsonException e)
        {
            throw new EquivarianceLabException($"The stored model card is not valid: {e.Message}", e);
        }
    }

    public static string Write(ModelCard card) => JsonSerializer.Serialize(card, ModelCard.JsonOptions);

    public static string Shape(IEnumerable<long> shape) => string.Join("×", shape);
    public static string Shape(IEnumerable<int> shape) => string.Join("×", shape);
}
