namespace EquivarianceLab.Measure;

/// <summary>
/// Running sums and counts for one layer and one transform and, when it keeps images, each image's own sums and
/// counts (a few doubles per image) or its influence, for the standard error (docs/measure.md, "Uncertainty").
/// </summary>
public sealed class ScoreAccumulator
{
    private readonly double[]? _invSums, _invCounts, _eqSums, _eqCounts;
    private int _images;
    private double[]? _invInfluence, _eqInfluence;

    /// <summary>Totals only: no uncertainty.</summary>
    public ScoreAccumulator() { }

    /// <summary>Totals, and room for <paramref name="images"/> images' sums and counts.</summary>
    public ScoreAccumulator(int images)
    {
        _invSums = new double[images];
        _invCounts = new double[images];
        _eqSums = new double[images];
        _eqCounts = new double[images];
    }

    public double InvarianceSum { get; private set; }
    public long InvarianceCount { get; private set; }
    public double EquivarianceSum { get; private set; }
    public long EquivarianceCount { get; private set; }

    public bool KeepsImages => _invSums is not null;

    public void Add(double invSum, long invCount, double eqSum, long eqCount)
    {
        InvarianceSum += invSum; InvarianceCount += invCount;
        EquivarianceSum += eqSum; EquivarianceCount += eqCount;
    }

    /// <summary>The next images' sums and counts, in probe order (spatial layers: one entry per image).</summary>
    public void AddImages(double[] invSums, double[] invCounts, double[] eqSums, double[] eqCounts)
    {
        if (_invSums is null) throw new InvalidOperationException("This accumulator keeps totals only.");
        invSums.CopyTo(_invSums, _images);
        invCounts.CopyTo(_invCounts!, _images);
        eqSums.CopyTo(_eqSums!, _images);
        eqCounts.CopyTo(_eqCounts!, _images);
        _images += invSums.Length;
    }

    /// <summary>Vector layers: the influences are computed from the whole vectors at the end (<see cref="VectorInfluence"/>).</summary>
    public void SetInfluence(double[]? invariance, double[]? equivariance)
    {
        _invInfluence = invariance;
        _eqInfluence = equivariance;
    }

    public Score ToScore() => new(
        InvarianceCount > 0 ? InvarianceSum / InvarianceCount : null,
        EquivarianceCount > 0 ? EquivarianceSum / EquivarianceCount : null);

    /// <summary>
    /// Each image's influence on the invariance and equivariance (null where the score is null or nothing was kept).
    /// The score is the ratio R = Σ s_n / Σ k_n of the images' similarity sums and pair counts; image n's influence
    /// is ∂R/∂w_n = (s_n − R·k_n) / K at unit image weights w, K = Σ k_n.
    /// </summary>
    public ImageInfluence Influence()
    {
        if (_invSums is null) return new(_invInfluence, _eqInfluence);
        return new(Ratio(_invSums, _invCounts!, InvarianceSum, InvarianceCount), Ratio(_eqSums!, _eqCounts!, EquivarianceSum, EquivarianceCount));
    }

    private double[]? Ratio(double[] sums, double[] counts, double total, long count)
    {
        if (count == 0) return null;
        double ratio = total / count;
        var influence = new double[_images];
        for (int n = 0; n < _images; n++) influence[n] = (sums[n] - ratio * counts[n]) / count;
        return influence;
    }
}
