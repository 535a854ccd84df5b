namespace EquivarianceLab.Statistics;

/// <summary>
/// The mean and the sample standard deviation (n − 1 in the denominator) of the values that are present, and how many
/// those are. <see cref="Sd"/> is null below two values (one seed has no spread to estimate), <see cref="Mean"/> with none.
/// </summary>
public readonly record struct SampleSpread(double? Mean, double? Sd, int N)
{
    /// <summary>
    /// Nulls and NaNs are left out: a model without the score is not a score of zero. Welford's running update, so that
    /// equal values (replicas that agree to the last bit) have a mean equal to them and an sd of exactly 0.
    /// </summary>
    public static SampleSpread Of(IEnumerable<double?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        int n = 0;
        double mean = 0, squares = 0;
        foreach (var v in values)
        {
            if (v is not double x || double.IsNaN(x)) continue;
            n++;
            var delta = x - mean;
            mean += delta / n;
            squares += delta * (x - mean);
        }
        return n switch
        {
            0 => new(null, null, 0),
            1 => new(mean, null, 1),
            _ => new(mean, Math.Sqrt(squares / (n - 1)), n),
        };
    }
}
