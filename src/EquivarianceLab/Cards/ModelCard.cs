using System.Text.Json;
using System.Text.Json.Serialization;
using EquivarianceLab.Probes;

namespace EquivarianceLab.Cards;

/// <summary>
/// The JSON card beside each model (docs/models-and-probes.md, "Model cards"): <c>models/&lt;id&gt;/card.json</c>
/// for the zoo, or <c>&lt;file&gt;.card.json</c> beside an uploaded or command-line model.
/// </summary>
public sealed record ModelCard
{
    public required string Id { get; init; }
    public required string DisplayName { get; init; }
    /// <summary>CNN, ViT, MLP-Mixer, Control, …</summary>
    public string Family { get; init; } = "CNN";
    /// <summary>onnx, torchsharp or pytorch.</summary>
    public required string Format { get; init; }
    /// <summary>The model file, relative to the card's folder.</summary>
    public required string File { get; init; }
    /// <summary>For weight files: the architecture the project implements (e.g. cnn7, resnet20).</summary>
    public string? Architecture { get; init; }
    /// <summary>Architecture options (e.g. width, classes, channels).</summary>
    public Dictionary<string, JsonElement>? ArchitectureOptions { get; init; }
    /// <summary>Input shape without batch, [C, H, W].</summary>
    public required int[] InputShape { get; init; }
    public Preprocessing Preprocessing { get; init; } = new();
    /// <summary>Accuracy in percent, and the data set it was measured on.</summary>
    public double? Accuracy { get; init; }
    public string? AccuracyDataset { get; init; }
    /// <summary>
    /// Set when the accuracy is the publisher's figure rather than one the project measured (a pretrained graph without
    /// its classifier or test set here): who reported it, where. <c>eqlab evaluate</c> cannot re-measure such a card.
    /// </summary>
    public string? AccuracyReportedBy { get; init; }
    /// <summary>The exact command and seed that produced the model.</summary>
    public string? Provenance { get; init; }
    public int? Seed { get; init; }
    /// <summary>The default probe set for this model (a path relative to the repository's models/ folder or absolute).</summary>
    public string? DefaultProbe { get; init; }
    /// <summary>Free text.</summary>
    public string? Notes { get; init; }

    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    public static ModelCard Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<ModelCard>(System.IO.File.ReadAllText(path), JsonOptions)
                   ?? throw new EquivarianceLabException($"Model card {path} is empty.");
        }
        catch (JsonException e)
        {
            throw new EquivarianceLabException($"Model card {path} is not valid: {e.Message}", e);
        }
    }

    public void Save(string path) => System.IO.File.WriteAllText(path, JsonSerializer.Serialize(this, JsonOptions));

    /// <summary>The card for a model file: <c>file.card.json</c>, else <c>card.json</c> in the same folder if it names this file.</summary>
    public static ModelCard? FindFor(string modelPath)
    {
        var beside = modelPath + ".card.json";
        if (System.IO.File.Exists(beside)) return Load(beside);
        var folderCard = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelPath))!, "card.json");
        if (System.IO.File.Exists(folderCard))
        {
            var card = Load(folderCard);
            if (string.Equals(card.File, Path.GetFileName(modelPath), StringComparison.Ordinal)) return card;
        }
        return null;
    }
}
