using EquivarianceLab.Statistics;

namespace EquivarianceLab.Tests.Statistics;

/// <summary>Student's t quantiles for the intervals, against values from mpmath's regularised incomplete beta (bisection to 30 digits), which printed tables agree with.</summary>
public class StudentIntervalTests
{
    [Theory]
    [InlineData(1, 0.95, 12.7062047362)]
    [InlineData(15, 0.95, 2.13144954556)]
    [InlineData(127, 0.95, 1.9788195347)]
    [InlineData(10, 0.99, 3.16927267262)]
    public void Quantiles_match_the_tables_on_first_and_repeated_calls(int freedom, double level, double expected)
    {
        // The second call is answered from the quantiles already computed: the same number.
        double first = StudentInterval.Quantile(freedom, level), again = StudentInterval.Quantile(freedom, level);
        Assert.Equal(expected, first, 8);
        Assert.Equal(first, again);
    }

    [Fact]
    public void A_known_quantile_does_not_answer_for_another_level_or_freedom()
    {
        double ninetyFive = StudentInterval.Quantile(20, 0.95);
        Assert.Equal(2.84533970979, StudentInterval.Quantile(20, 0.99), 8);
        Assert.Equal(2.08596344727, ninetyFive, 8);
        Assert.Equal(2.07961384473, StudentInterval.Quantile(21, 0.95), 8);
    }

    [Theory]
    [InlineData(0, 0.95)]
    [InlineData(5, 0)]
    [InlineData(5, 1)]
    public void Out_of_range_arguments_are_refused(int freedom, double level) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => StudentInterval.Quantile(freedom, level));
}
