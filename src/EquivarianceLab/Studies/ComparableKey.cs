using System.Globalization;
using EquivarianceLab.Measure;

namespace EquivarianceLab.Studies;

/// <summary>
/// What measurements must share for their models' scores and accuracies to be ranked together (paper §4.2): the probe
/// images, the transform family, the similarity, the largest shift, the number of images measured, and the test set
/// the accuracies come from. Runs with different keys are never pooled into one ρ. <see cref="MaxShift"/> is part of the
/// key for every family, as the run records it; a continuous family's angles or shifts are part of its
/// <see cref="Transform"/> (<c>rotation-continuous(15,30,45,90)</c>).
/// </summary>
public sealed record ComparableKey(string Probe, string Transform, string Similarity, int MaxShift, int Images, string TestSet)
{
    /// <summary>Shown (and keyed) for a model whose card does not say which test set its accuracy was measured on.</summary>
    public const string UnstatedTestSet = "unstated";

    /// <summary>The key of a measurement whose accuracy was measured on <paramref name="testSet"/> (null: not stated).</summary>
    public static ComparableKey Of(MeasurementResult result, string probe, string? testSet)
    {
        ArgumentNullException.ThrowIfNull(result);
        // A continuous family is only comparable at the same angles or shifts: they are part of its transform here.
        var values = result.Angles ?? result.Shifts;
        var transform = values is null ? result.Transform
            : $"{result.Transform}({ContinuousFamilies.Format(values)})";
        return new(probe, transform, result.Similarity, result.MaxShift, result.Images,
            string.IsNullOrWhiteSpace(testSet) ? UnstatedTestSet : testSet.Trim());
    }

    /// <summary>
    /// A readable, stable name for the key, e.g. <c>rotation~shift16~pearson~500img~fashion-mnist-test~fmnist/test</c>
    /// (what the dashboard's URL and the study's <c>group</c> column carry).
    /// </summary>
    public string Text => string.Join('~', Transform, "shift" + MaxShift.ToString(CultureInfo.InvariantCulture), Similarity,
        Images.ToString(CultureInfo.InvariantCulture) + "img", Probe, TestSet);
}
