namespace EquivarianceLab.Web.Data;

/// <summary>A stored score's standard error and 95% interval over probe images (docs/measure.md, "Uncertainty").</summary>
public interface IStoredUncertainty
{
    double? InvarianceStderr { get; set; }
    double? InvarianceLow { get; set; }
    double? InvarianceHigh { get; set; }
    double? EquivarianceStderr { get; set; }
    double? EquivarianceLow { get; set; }
    double? EquivarianceHigh { get; set; }
}
