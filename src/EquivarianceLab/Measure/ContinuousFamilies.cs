using System.Globalization;

namespace EquivarianceLab.Measure;

/// <summary>
/// The members of <c>rotation-continuous</c> and <c>translation-continuous</c> (docs/measure.md, "Continuous
/// transforms") and what their angles and shifts must be. Every check fails with a message naming the option.
/// </summary>
public static class ContinuousFamilies
{
    public static bool IsContinuous(TransformFamily family) =>
        family is TransformFamily.RotationContinuous or TransformFamily.TranslationContinuous;

    /// <summary>One member per angle or shift, in the order given (<see cref="Check"/> them first: <see cref="SpatialTransform.Family(MeasureOptions)"/> does).</summary>
    public static IReadOnlyList<SpatialTransform> Members(MeasureOptions options) =>
        options.Transform == TransformFamily.RotationContinuous
            ? AnglesOf(options).Select(a => (SpatialTransform)new ContinuousRotation(a)).ToList()
            : ShiftsOf(options).Select(s => (SpatialTransform)new ContinuousShift(s)).ToList();

    /// <summary>result.json's <c>angles</c>: the angles measured, null for every other family.</summary>
    public static double[]? ResultAngles(MeasureOptions options) =>
        options.Transform == TransformFamily.RotationContinuous ? AnglesOf(options).ToArray() : null;

    /// <summary>result.json's <c>shifts</c>: the shifts measured, null for every other family.</summary>
    public static double[]? ResultShifts(MeasureOptions options) =>
        options.Transform == TransformFamily.TranslationContinuous ? ShiftsOf(options).ToArray() : null;

    /// <summary>
    /// Angles and shifts belong to their own family, and each must be finite, non-zero, given once, and an angle
    /// within ±360°. Needs no probe: the command line checks before it opens anything.
    /// </summary>
    public static void Check(MeasureOptions options)
    {
        if (options.Angles is not null && options.Transform != TransformFamily.RotationContinuous)
            throw new EquivarianceLabException($"--angles applies to --transform rotation-continuous only, not {MeasureNames.Name(options.Transform)}.");
        if (options.Shifts is not null && options.Transform != TransformFamily.TranslationContinuous)
            throw new EquivarianceLabException($"--shifts applies to --transform translation-continuous only, not {MeasureNames.Name(options.Transform)}.");
        if (options.Transform == TransformFamily.RotationContinuous)
        {
            CheckValues(AnglesOf(options), "--angles", "angle");
            foreach (var angle in AnglesOf(options))
                if (Math.Abs(angle) > 360)
                    throw new EquivarianceLabException($"--angles: {Number(angle)} is beyond a full turn; every angle must be within ±360 degrees.");
        }
        if (options.Transform == TransformFamily.TranslationContinuous) CheckValues(ShiftsOf(options), "--shifts", "shift");
    }

    /// <summary>
    /// With the probe's size, before any forward pass: a shift must be at most the smaller side minus two: shifted by
    /// s, ⌈|s|⌉ rows and columns leave the valid region, and at least 2×2 input pixels must stay in it. (That rotations
    /// need square images is checked for both rotation families in <see cref="EquivarianceMeasure"/>.)
    /// </summary>
    public static void CheckShiftsFit(MeasureOptions options, long height, long width)
    {
        if (options.Transform != TransformFamily.TranslationContinuous) return;
        long limit = Math.Min(height, width) - 2;
        foreach (var shift in ShiftsOf(options))
            if (Math.Abs(shift) > limit)
                throw new EquivarianceLabException(
                    $"--shifts: {Number(shift)} is too large for {height}×{width} images; a shift must be at most {limit} (the smaller side minus two), " +
                    "or fewer than two rows and columns of the image would stay inside.");
    }

    /// <summary>Angles or shifts as stored and keyed: comma-separated, invariant culture, each reading back to the same double.</summary>
    public static string Format(IEnumerable<double> values) =>
        string.Join(',', values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    private static IReadOnlyList<double> AnglesOf(MeasureOptions options) => options.Angles ?? MeasureOptions.DefaultAngles;
    private static IReadOnlyList<double> ShiftsOf(MeasureOptions options) => options.Shifts ?? MeasureOptions.DefaultShifts;

    private static void CheckValues(IReadOnlyList<double> values, string option, string what)
    {
        if (values.Count == 0) throw new EquivarianceLabException($"{option} needs at least one {what}.");
        foreach (var v in values)
        {
            if (!double.IsFinite(v)) throw new EquivarianceLabException($"{option}: {Number(v)} is not a finite number.");
            if (v == 0) throw new EquivarianceLabException($"{option}: 0 moves nothing; every {what} must be non-zero.");
        }
        if (values.GroupBy(v => v).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new EquivarianceLabException($"{option} lists {Number(twice.Key)} more than once.");
    }

    private static string Number(double v) => v.ToString(CultureInfo.InvariantCulture);
}
