namespace EquivarianceLab.Measure;

/// <summary>The paper's depth-wise parts (docs/measure.md, "Parts").</summary>
public static class Parts
{
    public const string Early = "Early", Middle = "Middle", Late = "Late", Pool = "Pool", Final = "Final";
    public static readonly IReadOnlyList<string> All = [Early, Middle, Late, Pool, Final];

    /// <summary>A vector layer of this name is Final when the model names no logits layer among those measured.</summary>
    public const string LogitsName = "logits";
}
