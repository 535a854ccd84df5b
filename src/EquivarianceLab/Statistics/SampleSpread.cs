namespace EquivarianceLab.Statistics;

/// <summary>
/// The mean and the sample standard deviation (n − 1 in the denominator) of the values that are present, and how many
/// those are. <see cref="Sd"/> is null below two values (one seed has no spread to estimate), <see cref="Mean"/> with none.
/// </summary>
public readonly record struct SampleSpread(double? Mean, double? Sd, int N)
{
    /// <summary>Nulls and NaNs are left out: a model without the score is not a score of zero.</summary>
    public static SampleSpread Of(IEnumerable<double?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var present = values.Where(v => v is double d && !double.IsNaN(d)).Select(v => v!.Value).ToList();
        if (present.Count == 0) return new(null, null, 0);
        var mean = present.Average();
        if (present.Count == 1) return new(mean, null, 1);
        var squares = present.Sum(v => (v - mean) * (v - mean));
        return new(mean, Math.Sqrt(squares / (present.Count - 1)), present.Count);
    }
}
