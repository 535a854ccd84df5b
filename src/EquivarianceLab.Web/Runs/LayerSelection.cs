using EquivarianceLab.FeatureModels;
using EquivarianceLab.Measure;
using EquivarianceLab.Web.Jobs;

namespace EquivarianceLab.Web.Runs;

/// <summary>
/// The run form's layer choice for one model: its listing with the default selection ticked, changed by the user. A
/// request carries the choice only when it differs from the default.
/// </summary>
public sealed class LayerSelection(IReadOnlyList<LayerInfo> layers)
{
    private readonly HashSet<string> _ticked = layers.Where(l => l.Default).Select(l => l.Name).ToHashSet(StringComparer.Ordinal);

    public IReadOnlyList<LayerInfo> Layers { get; } = layers;

    /// <summary>The layer the user names as logits; null for the model's own.</summary>
    public string? Logits { get; private set; }

    /// <summary>The default selection's Final layer (the model's own logits), if any.</summary>
    public string? DefaultLogits { get; } = layers.FirstOrDefault(l => l.Default && l.Part == Parts.Final)?.Name;

    public int Count => _ticked.Count;

    public bool IsTicked(string name) => _ticked.Contains(name);

    public void Set(string name, bool ticked)
    {
        if (ticked) _ticked.Add(name);
        else
        {
            _ticked.Remove(name);
            if (Logits == name) Logits = null;
        }
    }

    /// <summary>Names a layer as logits (ticking it), or goes back to the model's own with null.</summary>
    public void SetLogits(string? name)
    {
        Logits = name == DefaultLogits ? null : name;
        if (Logits is not null) _ticked.Add(Logits);
    }

    public void SelectAll() => _ticked.UnionWith(Layers.Select(l => l.Name));

    public void SelectNone()
    {
        _ticked.Clear();
        Logits = null;
    }

    public void SelectDefault()
    {
        _ticked.Clear();
        _ticked.UnionWith(Layers.Where(l => l.Default).Select(l => l.Name));
        Logits = null;
    }

    public bool IsDefault => Logits is null && _ticked.SetEquals(Layers.Where(l => l.Default).Select(l => l.Name));

    /// <summary>Vector layers, the ones that can hold logits.</summary>
    public IEnumerable<LayerInfo> LogitsCandidates => Layers.Where(l => l.Shape.Count == 1 || (l.Shape.Count == 3 && l.Shape[1] == 1 && l.Shape[2] == 1));

    /// <summary>What the request carries: nothing for the default selection, else the ticked layers in forward order.</summary>
    public LayerChoice ToChoice() => IsDefault
        ? LayerChoice.Default
        : new LayerChoice(Layers.Where(l => _ticked.Contains(l.Name)).Select(l => l.Name).ToList(), Logits);
}
