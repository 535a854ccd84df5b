using EquivarianceLab.Measure;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Measure;

/// <summary>
/// The continuous transforms against answers known without them: numpy's rot90, integer shifts by index arithmetic,
/// bilinear weights worked out by hand, and valid regions drawn by hand.
/// </summary>
public class ContinuousTransformTests
{
    private static float[] Values(Tensor t) => t.contiguous().data<float>().ToArray();

    private static Tensor Random(long b, long c, long h, long w, int seed)
    {
        var random = new Random(seed);
        return tensor(Enumerable.Range(0, (int)(b * c * h * w)).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray(), [b, c, h, w]);
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"{what}[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    [Theory]
    [InlineData(8)]
    [InlineData(7)]
    public void Quarter_turns_equal_numpy_rot90_on_inputs_and_feature_maps(int size)
    {
        using var scope = NewDisposeScope();
        var x = Random(2, 3, size, size, seed: size);
        foreach (var k in new[] { 1, 2, 3 })
        {
            var expected = Values(Rotation.Rotate(x, k));
            var g = new ContinuousRotation(90 * k);
            AssertClose(expected, Values(g.ApplyToInput(x)), 1e-5, $"input rot{90 * k}");
            // A feature map of a larger input: the angle is the same on every grid.
            AssertClose(expected, Values(g.ApplyToFeature(x, 4 * size, 4 * size)), 1e-5, $"feature rot{90 * k}");
            Assert.Equal(size * size, g.ValidPositions(size, size, size, size).Length);
        }
        // −90° is 270°, and the inverse of 90° turns back.
        AssertClose(Values(Rotation.Rotate(x, 3)), Values(new ContinuousRotation(-90).ApplyToInput(x)), 1e-5, "rot-90");
        AssertClose(Values(x), Values(new ContinuousRotation(90).ApplyInverseToFeature(Rotation.Rotate(x, 1), size, size)), 1e-5, "inverse");
    }

    [Fact]
    public void A_whole_pixel_shift_is_an_integer_shift_that_does_not_wrap()
    {
        // out[i, j] = x[i − 1, j − 1] where that exists (the valid region), 0 in the first row and column.
        const int h = 5, w = 7;
        using var scope = NewDisposeScope();
        var x = Random(2, 3, h, w, seed: 1);
        var moved = new ContinuousShift(1.0).ApplyToInput(x);
        var xs = Values(x);
        var ms = Values(moved);
        for (int plane = 0; plane < 6; plane++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                {
                    float expected = i >= 1 && j >= 1 ? xs[plane * h * w + (i - 1) * w + (j - 1)] : 0f;
                    Assert.True(Math.Abs(expected - ms[plane * h * w + i * w + j]) <= 1e-6, $"plane {plane} ({i}, {j})");
                }
        var valid = new ContinuousShift(1.0).ValidPositions(h, w, h, w);
        Assert.Equal(Enumerable.Range(1, h - 1).SelectMany(i => Enumerable.Range(1, w - 1).Select(j => (long)(i * w + j))), valid);
        // The circular DiagonalShift agrees everywhere except where it wraps around.
        var circular = Values(new DiagonalShift(1).ApplyToInput(x));
        foreach (var p in valid) Assert.Equal(circular[p], ms[p], 6);
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(1.25)]
    [InlineData(-0.5)]
    public void A_sub_pixel_shift_weighs_the_four_neighbouring_whole_pixel_shifts_bilinearly(double s)
    {
        // Shifted by s = k + t (k whole, 0 ≤ t < 1) along both axes, position (i, j) reads the source point
        // (i − s, j − s), between rows i − k − 1 and i − k: weight t on the first, 1 − t on the second, and the same
        // on columns. At s = 0.5 that is the plain mean of the shifts by (0,0), (0,1), (1,0) and (1,1) pixels.
        const int h = 6, w = 6;
        using var scope = NewDisposeScope();
        var x = Random(1, 2, h, w, seed: 2);
        var xs = Values(x);
        var ms = Values(new ContinuousShift(s).ApplyToInput(x));
        long k = (long)Math.Floor(s);
        double t = s - k;
        var valid = new ContinuousShift(s).ValidPositions(h, w, h, w).ToHashSet();
        int checkedInside = 0;
        for (int plane = 0; plane < 2; plane++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++)
                {
                    double Pixel(long r, long c) => r >= 0 && r < h && c >= 0 && c < w ? xs[plane * h * w + r * w + c] : 0;
                    long r0 = i - k - 1, c0 = j - k - 1; // the rows and columns s − k = t beyond the whole shift
                    double expected = t * t * Pixel(r0, c0) + t * (1 - t) * (Pixel(r0, c0 + 1) + Pixel(r0 + 1, c0)) + (1 - t) * (1 - t) * Pixel(r0 + 1, c0 + 1);
                    Assert.True(Math.Abs(expected - ms[plane * h * w + i * w + j]) <= 1e-6, $"s = {s}, plane {plane} ({i}, {j}): {expected} vs {ms[plane * h * w + i * w + j]}");
                    // Inside means every neighbour with weight is on the grid: rows i − s within [0, h − 1].
                    bool inside = i - s >= 0 && i - s <= h - 1 && j - s >= 0 && j - s <= w - 1;
                    Assert.Equal(inside, valid.Contains(i * w + j));
                    if (inside) checkedInside++;
                }
        Assert.True(checkedInside > 0);
        if (s == 0.5)
        {
            double mean = (xs[1 * w + 1] + xs[0 * w + 1] + xs[1 * w + 0] + xs[0]) / 4;
            Assert.Equal(mean, ms[1 * w + 1], 6);
        }
    }

    [Fact]
    public void On_a_feature_map_a_shift_scales_with_the_grid_without_rounding()
    {
        // 1.5 input pixels on a 4×4 map of an 8×8 input: 0.75 cells (a DiagonalShift would round it to 1).
        var g = new ContinuousShift(1.5);
        Assert.Equal((2 - 0.75, 3 - 0.75), g.Source(2, 3, 4, 4, 8, 8));
        Assert.Equal((2 - 0.375, 3 - 1.5), g.Source(2, 3, 4, 8, 16, 8));
        Assert.Equal(1L, DiagonalShift.ScaledShift(2, 4, 8));
    }

    [Fact]
    public void At_90_degrees_the_valid_region_is_the_whole_grid_and_at_45_it_leaves_out_the_corners()
    {
        foreach (var size in new[] { 7, 8 })
            using (var all = new ContinuousRotation(90).ValidRegion(size, size, size, size))
                Assert.True(all.all().item<bool>(), $"{size}×{size}");

        // 8×8, centre 3.5: with y = i − 3.5, x = j − 3.5, the source of (i, j) at 45° is the centre plus
        // ((x + y)/√2, (x − y)/√2); it lies inside when |x + y| and |x − y| are at most 3.5·√2 = 4.95, and as both
        // are whole numbers here: |i + j − 7| ≤ 4 and |i − j| ≤ 4. Drawn:
        string[] expected =
        [
            "...##...",
            "..####..",
            ".######.",
            "########",
            "########",
            ".######.",
            "..####..",
            "...##...",
        ];
        using var region = new ContinuousRotation(45).ValidRegion(8, 8, 8, 8);
        var cells = region.contiguous().data<bool>().ToArray();
        var drawn = Enumerable.Range(0, 8).Select(i => new string(Enumerable.Range(0, 8).Select(j => cells[i * 8 + j] ? '#' : '.').ToArray())).ToArray();
        Assert.Equal(expected, drawn);
        Assert.Equal(40, cells.Count(c => c));
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 8; j++)
                Assert.Equal(Math.Abs(i + j - 7) <= 4 && Math.Abs(i - j) <= 4, cells[i * 8 + j]);
    }

    [Fact]
    public void A_rotation_by_any_angle_turns_a_single_bright_pixel_about_the_centre_counter_clockwise()
    {
        // One pixel right of the centre of a 9×9 grid (row 4, column 6), turned 30° counter-clockwise with rows
        // pointing down, lands at row 4 − 2·sin 30° = 3, column 4 + 2·cos 30° = 5.73. Each output pixel holds the
        // bilinear weight of the source pixel at its own source point (sr, sc) = centre + (y·cos + x·sin, x·cos − y·sin):
        // the tent (1 − |sr − 4|)·(1 − |sc − 6|) where both are positive.
        var data = new float[81];
        data[4 * 9 + 6] = 1;
        using var x = tensor(data, [1, 1, 9, 9]);
        using var rotated = new ContinuousRotation(30).ApplyToInput(x);
        var turned = Values(rotated);
        double cos = Math.Cos(Math.PI / 6), sin = 0.5;
        double Tent(int i, int j)
        {
            double y = i - 4, xx = j - 4, sr = 4 + y * cos + xx * sin, sc = 4 + xx * cos - y * sin;
            return Math.Max(0, 1 - Math.Abs(sr - 4)) * Math.Max(0, 1 - Math.Abs(sc - 6));
        }
        for (int i = 0; i < 9; i++)
            for (int j = 0; j < 9; j++)
                Assert.True(Math.Abs(Tent(i, j) - turned[i * 9 + j]) <= 1e-6, $"({i}, {j}): {Tent(i, j)} vs {turned[i * 9 + j]}");
        // Row 3, columns 5 and 6 (0.23 and 0.67): up and to the right; row 5 (clockwise) stays dark.
        Assert.True(turned[3 * 9 + 5] > 0.2 && turned[3 * 9 + 6] > 0.6, "the pixel should have turned up, staying right of the centre");
        Assert.Equal(0f, turned[5 * 9 + 5]);
        Assert.Equal(0f, turned[5 * 9 + 6]);
    }

    [Fact]
    public void Keys_use_the_shortest_invariant_number_and_a_continuous_quarter_turn_shares_rot90()
    {
        Assert.Equal(["rot15", "rot22.5", "rot90", "rot-30"],
            SpatialTransform.Family(new MeasureOptions { Transform = TransformFamily.RotationContinuous, Angles = [15, 22.5, 90, -30] }).Select(g => g.Key));
        Assert.Equal(["shift0.5", "shift1.5", "shift-1"],
            SpatialTransform.Family(new MeasureOptions { Transform = TransformFamily.TranslationContinuous, Shifts = [0.5, 1.5, -1] }).Select(g => g.Key));
        Assert.Equal("rot90", new Rotation(1).Key);
        Assert.Equal(["rot15", "rot30", "rot45", "rot90"],
            SpatialTransform.Family(new MeasureOptions { Transform = TransformFamily.RotationContinuous }).Select(g => g.Key));
        Assert.Equal(["shift0.5", "shift1.5"], SpatialTransform.Family(TransformFamily.TranslationContinuous, 16).Select(g => g.Key));

        foreach (var (name, family) in new[] { ("rotation-continuous", TransformFamily.RotationContinuous), ("translation-continuous", TransformFamily.TranslationContinuous) })
        {
            Assert.Equal(family, MeasureNames.ParseTransform(name));
            Assert.Equal(name, MeasureNames.Name(family));
        }
        Assert.Equal("rotation", MeasureNames.Name(TransformFamily.Rotation));
    }

    [Theory]
    [InlineData("rotation-continuous", new double[] { 0 }, null, "--angles", "non-zero")]
    [InlineData("rotation-continuous", new double[] { double.NaN }, null, "--angles", "finite")]
    [InlineData("rotation-continuous", new double[] { double.PositiveInfinity }, null, "--angles", "finite")]
    [InlineData("rotation-continuous", new double[] { 400 }, null, "--angles", "360")]
    [InlineData("rotation-continuous", new double[] { 15, 30, 15 }, null, "--angles", "15 more than once")]
    [InlineData("rotation-continuous", new double[0], null, "--angles", "at least one")]
    [InlineData("rotation", new double[] { 45 }, null, "--angles", "rotation-continuous only")]
    [InlineData("translation-continuous", new double[] { 45 }, null, "--angles", "rotation-continuous only")]
    [InlineData("translation-continuous", null, new double[] { 0.5, -0.0 }, "--shifts", "non-zero")]
    [InlineData("translation-continuous", null, new double[] { 0.5, 0.5 }, "--shifts", "more than once")]
    [InlineData("translation", null, new double[] { 0.5 }, "--shifts", "translation-continuous only")]
    [InlineData("rotation-continuous", null, new double[] { 0.5 }, "--shifts", "translation-continuous only")]
    public void Unusable_angles_and_shifts_are_refused_naming_the_option(string family, double[]? angles, double[]? shifts, string option, string reason)
    {
        var options = new MeasureOptions { Transform = MeasureNames.ParseTransform(family), Angles = angles, Shifts = shifts };
        var e = Assert.Throws<EquivarianceLabException>(() => SpatialTransform.Family(options));
        Assert.StartsWith(option, e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Shifts_must_leave_two_rows_and_columns()
    {
        var shifts = new MeasureOptions { Transform = TransformFamily.TranslationContinuous, Shifts = [0.5, 7] };
        var e = Assert.Throws<EquivarianceLabException>(() => ContinuousFamilies.CheckShiftsFit(shifts, 8, 10));
        Assert.Contains("--shifts: 7 is too large for 8×10 images", e.Message);
        Assert.Contains("at most 6", Assert.Throws<EquivarianceLabException>(() => ContinuousFamilies.CheckShiftsFit(shifts with { Shifts = [-6.5] }, 8, 10)).Message);
        // Shifted by 6 along the 8 rows, rows 6 and 7 stay inside.
        ContinuousFamilies.CheckShiftsFit(shifts with { Shifts = [0.5, 6, -6] }, 8, 10);
        Assert.Equal([6L * 10 + 6, 6 * 10 + 7, 6 * 10 + 8, 6 * 10 + 9, 7 * 10 + 6, 7 * 10 + 7, 7 * 10 + 8, 7 * 10 + 9],
            new ContinuousShift(6).ValidPositions(8, 10, 8, 10));
        // Non-square images are fine for shifts (rotations refuse them: EqlabContinuousTests).
    }
}
