namespace EquivarianceLab.FeatureModels.Onnx;

/// <summary>The "Layers look like: …" part of an unknown-layer error: close matches first, then typical names.</summary>
internal static class LayerNameHints
{
    private const int Shown = 6;

    public static string UnknownLayer(string name, string model, IReadOnlyList<string> available, IReadOnlyList<string> typical)
    {
        var close = available
            .Select(a => (Name: a, Score: Closeness(name, a)))
            .Where(x => x.Score is not null)
            .OrderBy(x => x.Score)
            .Select(x => x.Name);
        var hints = close.Concat(typical).Concat(available).Distinct(StringComparer.Ordinal).Take(Shown).ToList();
        var more = available.Count > hints.Count ? ", …" : "";
        var count = available.Count == 1 ? "1 tensor" : $"{available.Count} tensors";
        return $"Unknown layer '{name}' in {model}. Layers look like: {string.Join(", ", hints)}{more} ({count}; see --list-layers)";
    }

    /// <summary>Lower is closer; null when unrelated. Case-insensitive equality, then shared prefixes, then edit distance.</summary>
    private static int? Closeness(string wanted, string candidate)
    {
        if (string.Equals(wanted, candidate, StringComparison.OrdinalIgnoreCase)) return 0;
        var distance = EditDistance(wanted.ToLowerInvariant(), candidate.ToLowerInvariant());
        var limit = Math.Max(2, wanted.Length / 3);
        if (distance <= limit) return 1 + distance;
        var prefix = 0;
        while (prefix < wanted.Length && prefix < candidate.Length && char.ToLowerInvariant(wanted[prefix]) == char.ToLowerInvariant(candidate[prefix])) prefix++;
        return prefix >= Math.Min(4, wanted.Length) ? 100 + distance : null;
    }

    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
                current[j] = Math.Min(Math.Min(current[j - 1], previous[j]) + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
