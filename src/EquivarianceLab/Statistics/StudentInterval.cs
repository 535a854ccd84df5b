using MathNet.Numerics.Distributions;

namespace EquivarianceLab.Statistics;

/// <summary>Two-sided confidence intervals from Student's t.</summary>
public static class StudentInterval
{
    /// <summary>The t quantile that leaves (1 − <paramref name="level"/>)/2 in each tail, with <paramref name="freedom"/> degrees of freedom.</summary>
    public static double Quantile(int freedom, double level = 0.95)
    {
        if (freedom < 1) throw new ArgumentOutOfRangeException(nameof(freedom), "Student's t needs at least 1 degree of freedom.");
        if (level is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(level), "The level lies strictly between 0 and 1.");
        return StudentT.InvCDF(location: 0, scale: 1, freedom: freedom, p: (1 + level) / 2);
    }
}
