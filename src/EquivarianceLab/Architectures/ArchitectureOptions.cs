using System.Globalization;
using System.Text.Json;

namespace EquivarianceLab.Architectures;

/// <summary>
/// The options of one architecture (a model card's <c>architectureOptions</c>). Names match case-insensitively and
/// ignoring '-' and '_' (<c>inChannels</c>, <c>in-channels</c> and <c>in_channels</c> are the same option); values are
/// JSON numbers. An option the architecture does not know is an error, so a typo never silently builds another model.
/// </summary>
public sealed class ArchitectureOptions
{
    private readonly string _architecture;
    private readonly Dictionary<string, (string Name, JsonElement Value)> _given = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _known = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _resolved = new(StringComparer.Ordinal);

    public ArchitectureOptions(string architecture, IReadOnlyDictionary<string, JsonElement>? options)
    {
        _architecture = architecture;
        if (options is null) return;
        foreach (var (name, value) in options)
        {
            var key = Normalize(name);
            if (!_given.TryAdd(key, (name, value)))
                throw new EquivarianceLabException($"Architecture {architecture}: option '{name}' is given twice (as '{_given[key].Name}' too).");
        }
    }

    /// <summary>Options written by this project use these canonical (camelCase) names.</summary>
    public static string Normalize(string name) => name.Replace("-", "", StringComparison.Ordinal).Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();

    /// <summary>Reads an integer option (canonical name, e.g. <c>inChannels</c>), or its default.</summary>
    public int Int(string canonicalName, int defaultValue, int min = 1, int max = 1 << 20)
    {
        var key = Normalize(canonicalName);
        _known[key] = canonicalName;
        int value = defaultValue;
        if (_given.TryGetValue(key, out var given))
        {
            var e = given.Value;
            if (e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var n)) value = n;
            else if (e.ValueKind == JsonValueKind.String && int.TryParse(e.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s)) value = s;
            else throw new EquivarianceLabException($"Architecture {_architecture}: option '{given.Name}' must be an integer, not {e.GetRawText()}.");
        }
        if (value < min || value > max)
            throw new EquivarianceLabException($"Architecture {_architecture}: option '{canonicalName}' is {value}; it must be between {min} and {max}.");
        _resolved[canonicalName] = value;
        return value;
    }

    /// <summary>Fails when an option was given that the architecture never asked for. Call after reading every option.</summary>
    public void RejectUnknown()
    {
        var unknown = _given.Keys.Where(k => !_known.ContainsKey(k)).Select(k => _given[k].Name).ToList();
        if (unknown.Count > 0)
            throw new EquivarianceLabException(
                $"Architecture {_architecture} has no option {string.Join(", ", unknown.Select(u => $"'{u}'"))}; its options are {string.Join(", ", _known.Values)}.");
    }

    /// <summary>Every option with the value used (defaults included), canonical names: what a model card should record.</summary>
    public Dictionary<string, JsonElement> Resolved() =>
        _resolved.ToDictionary(kv => kv.Key, kv => JsonSerializer.SerializeToElement(kv.Value), StringComparer.Ordinal);

    /// <summary>Builds an options dictionary from plain values (for code and tests).</summary>
    public static Dictionary<string, JsonElement> From(params (string Name, int Value)[] options) =>
        options.ToDictionary(o => o.Name, o => JsonSerializer.SerializeToElement(o.Value), StringComparer.Ordinal);
}
