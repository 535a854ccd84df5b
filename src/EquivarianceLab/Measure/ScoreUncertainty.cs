using EquivarianceLab.Statistics;

namespace EquivarianceLab.Measure;

/// <summary>Each probe image's influence on one score (null where the score is null or none was kept).</summary>
public readonly record struct ImageInfluence(double[]? Invariance, double[]? Equivariance);

/// <summary>
/// Standard errors and 95% intervals over probe images (docs/measure.md, "Uncertainty"): the images are the sampling
/// unit, and a score's uncertainty follows from each image's influence on it (the infinitesimal jackknife).
/// </summary>
public static class ScoreUncertainty
{
    /// <summary>
    /// SE = √(N/(N−1) · Σ z_n²) from the influences z, and score ± t(0.975, N−1)·SE with both ends clamped to
    /// [−1, 1] (a float32 score of an exactly invariant layer can exceed 1 by rounding). For a plain
    /// mean over images this is exactly sd/√N. Null for a null score or fewer than 2 images.
    /// </summary>
    public static (double? Stderr, Interval? Interval) Estimate(double? score, double[]? influence)
    {
        if (score is not { } value || influence is null || influence.Length < 2) return (null, null);
        int n = influence.Length;
        double squares = 0;
        foreach (var z in influence) squares += z * z;
        double stderr = Math.Sqrt(n / (n - 1.0) * squares);
        double half = StudentInterval.Quantile(n - 1) * stderr;
        return (stderr, new Interval(Math.Clamp(value - half, -1, 1), Math.Clamp(value + half, -1, 1)));
    }

    /// <summary><paramref name="target"/> with the standard errors and intervals of its two scores.</summary>
    public static T Attach<T>(T target, double? invariance, double? equivariance, ImageInfluence influence) where T : Uncertainty
    {
        var (invStderr, invInterval) = Estimate(invariance, influence.Invariance);
        var (eqStderr, eqInterval) = Estimate(equivariance, influence.Equivariance);
        return (T)((Uncertainty)target with
        {
            InvarianceStderr = invStderr,
            InvarianceInterval = invInterval,
            EquivarianceStderr = eqStderr,
            EquivarianceInterval = eqInterval,
        });
    }

    /// <summary>
    /// The influence on a mean of scores (a layer over its transforms, a part over its layers) is the same mean of
    /// their influences, taken over the scores that are present, as the mean itself is. Averaging per image keeps
    /// the covariance between scores measured on the same images.
    /// </summary>
    public static ImageInfluence Mean(IReadOnlyList<(Score Score, ImageInfluence Influence)> members) => new(
        Mean(members.Where(m => m.Score.Invariance.HasValue).Select(m => m.Influence.Invariance).ToList()),
        Mean(members.Where(m => m.Score.Equivariance.HasValue).Select(m => m.Influence.Equivariance).ToList()));

    private static double[]? Mean(List<double[]?> present)
    {
        if (present.Count == 0 || present.Any(z => z is null)) return null;
        var mean = new double[present[0]!.Length];
        foreach (var z in present)
            for (int n = 0; n < mean.Length; n++) mean[n] += z![n];
        for (int n = 0; n < mean.Length; n++) mean[n] /= present.Count;
        return mean;
    }
}
