using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Training;

/// <summary>
/// RandAugment (Cubuk et al., 2020) on image tensors in [0, 1] ([B, C, H, W] float32), following torchvision's
/// operation space with 31 magnitude bins: each image gets <c>numOps</c> operations drawn uniformly (with replacement)
/// from Identity, ShearX/Y (≤ 0.3), TranslateX/Y (≤ 150/331 of the size), Rotate (≤ 30°), Brightness, Color, Contrast,
/// Sharpness (factor 1 ± ≤ 0.9), Posterize (8 → 4 bits), Solarize (threshold 1 → 0), AutoContrast and Equalize, signed
/// operations with a random sign. At the default magnitude 9 the strengths are 30% of the maxima. Geometric operations
/// sample nearest-neighbour and fill with 0 (shears about the top-left corner, rotations about the centre, as
/// torchvision). Color (saturation) leaves a grey image unchanged, as in torchvision.
/// </summary>
public static class RandAugment
{
    public const int DefaultOps = 2;
    public const int DefaultMagnitude = 9;
    public const int Bins = 31;

    private enum Op { Identity, ShearX, ShearY, TranslateX, TranslateY, Rotate, Brightness, Color, Contrast, Sharpness, Posterize, Solarize, AutoContrast, Equalize }

    private static readonly Op[] Ops = Enum.GetValues<Op>();

    public static Tensor Apply(Tensor x, Random rng, int numOps = DefaultOps, int magnitude = DefaultMagnitude)
    {
        if (magnitude < 0 || magnitude >= Bins) throw new ArgumentOutOfRangeException(nameof(magnitude), $"RandAugment magnitude must be 0–{Bins - 1}.");
        double m = (double)magnitude / (Bins - 1);
        long b = x.shape[0];
        for (int slot = 0; slot < numOps; slot++)
        {
            var ops = new Op[b];
            var signs = new double[b];
            for (int i = 0; i < b; i++)
            {
                ops[i] = Ops[rng.Next(Ops.Length)];
                signs[i] = rng.NextDouble() < 0.5 ? -1.0 : 1.0;
            }
            foreach (var op in ops.Distinct())
            {
                if (op is Op.Identity or Op.Color && x.shape[1] == 1) continue;
                var idx = Enumerable.Range(0, (int)b).Where(i => ops[i] == op).ToArray();
                using var index = torch.tensor(idx.Select(i => (long)i).ToArray());
                var sub = x.index_select(0, index);
                var transformed = ApplyOp(op, sub, idx.Select(i => signs[i]).ToArray(), m);
                x = x.index_copy(0, index, transformed);
            }
        }
        return x;
    }

    private static Tensor ApplyOp(Op op, Tensor x, double[] signs, double m)
    {
        long w = x.shape[3];
        switch (op)
        {
            case Op.ShearX:
                return Affine(x, signs.Select(s => Shear(s * 0.3 * m, horizontal: true)).ToArray());
            case Op.ShearY:
                return Affine(x, signs.Select(s => Shear(s * 0.3 * m, horizontal: false)).ToArray());
            case Op.TranslateX:
                return Affine(x, signs.Select(s => Translate(s * 150.0 / 331.0 * w * m, 0, w)).ToArray());
            case Op.TranslateY:
                return Affine(x, signs.Select(s => Translate(0, s * 150.0 / 331.0 * x.shape[2] * m, w)).ToArray());
            case Op.Rotate:
                return Affine(x, signs.Select(s => Rotate(s * 30.0 * m)).ToArray());
            case Op.Brightness:
                return (x * Factors(signs, 0.9 * m)).Clamped(0.0, 1.0);
            case Op.Color:
                {
                    // Saturation: blend with the grey image (only reached for colour images).
                    var grey = x.select(1, 0).Times(0.2989).Plus(x.select(1, 1).Times(0.587)).Plus(x.select(1, 2).Times(0.114)).unsqueeze(1);
                    var f = Factors(signs, 0.9 * m);
                    return Blend(f, x, grey);
                }
            case Op.Contrast:
                {
                    var mean = x.mean([1, 2, 3], keepdim: true);
                    var f = Factors(signs, 0.9 * m);
                    return Blend(f, x, mean);
                }
            case Op.Sharpness:
                return Sharpness(x, Factors(signs, 0.9 * m));
            case Op.Posterize:
                {
                    int bits = 8 - (int)Math.Round(m * (Bins - 1) / ((Bins - 1) / 4.0), MidpointRounding.ToEven);
                    long mask = ~((1L << (8 - bits)) - 1) & 0xFF;
                    var q = x.Times(255L).round().to_type(ScalarType.Int64).bitwise_and(mask);
                    return q.to_type(ScalarType.Float32).Over(255.0);
                }
            case Op.Solarize:
                {
                    double threshold = 1.0 - m;
                    return torch.where(x.AtLeast(threshold), x.SubtractedFrom(1.0), x);
                }
            case Op.AutoContrast:
                {
                    var lo = x.amin([2, 3], keepdim: true);
                    var hi = x.amax([2, 3], keepdim: true);
                    var range = hi - lo;
                    var ok = range.GreaterThan(1e-6);
                    return torch.where(ok, (x - lo) / torch.where(ok, range, torch.ones_like(range)), x);
                }
            case Op.Equalize:
                return Equalize(x);
            default:
                return x;
        }
    }

    /// <summary>torchvision's _blend: f·x + (1 − f)·other, clamped to [0, 1].</summary>
    private static Tensor Blend(Tensor f, Tensor x, Tensor other) =>
        (f * x).Plus(f.SubtractedFrom(1.0) * other).Clamped(0.0, 1.0);

    /// <summary>Per-image blend factors 1 + sign·magnitude, shaped [B, 1, 1, 1].</summary>
    private static Tensor Factors(double[] signs, double magnitude) =>
        torch.tensor(signs.Select(s => (float)(1.0 + s * magnitude)).ToArray()).reshape(signs.Length, 1, 1, 1);

    // An inverse map x_in = A·x_out + t in pixel coordinates, as (a00, a01, a10, a11, tx, ty) with (x, y) = (column, row).
    private readonly record struct Inverse(double A00, double A01, double A10, double A11, double Tx, double Ty, bool AboutCentre);

    private static Inverse Shear(double amount, bool horizontal) =>
        horizontal ? new Inverse(1, -amount, 0, 1, 0, 0, false) : new Inverse(1, 0, -amount, 1, 0, 0, false);

    private static Inverse Translate(double dx, double dy, long size) => new(1, 0, 0, 1, -dx, -dy, false);

    private static Inverse Rotate(double degrees)
    {
        double r = degrees * Math.PI / 180, c = Math.Cos(r), s = Math.Sin(r);
        // Counter-clockwise on screen (rows grow downwards): the inverse map turns the output clockwise.
        return new Inverse(c, -s, s, c, 0, 0, true);
    }

    /// <summary>Resamples every image by its inverse map (nearest neighbour, zero fill) with one affine_grid/grid_sample.</summary>
    private static Tensor Affine(Tensor x, Inverse[] maps)
    {
        long b = x.shape[0], h = x.shape[2], w = x.shape[3];
        double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
        var theta = new float[b * 6];
        for (int i = 0; i < b; i++)
        {
            var m = maps[i];
            // Pixel coordinates relative to the centre: p = c + (size/2)·u (align_corners = false).
            // Origin at the centre: x_in − c = A (x_out − c) + t.  Origin at the top-left pixel: x_in = A x_out + t.
            double ox = m.AboutCentre ? 0 : m.A00 * cx + m.A01 * cy - cx;
            double oy = m.AboutCentre ? 0 : m.A10 * cx + m.A11 * cy - cy;
            theta[i * 6 + 0] = (float)m.A00;
            theta[i * 6 + 1] = (float)(m.A01 * h / w);
            theta[i * 6 + 2] = (float)((ox + m.Tx) * 2 / w);
            theta[i * 6 + 3] = (float)(m.A10 * w / h);
            theta[i * 6 + 4] = (float)m.A11;
            theta[i * 6 + 5] = (float)((oy + m.Ty) * 2 / h);
        }
        using var t = torch.tensor(theta).reshape(b, 2, 3);
        using var grid = nn.functional.affine_grid(t, [b, x.shape[1], h, w], align_corners: false);
        return nn.functional.grid_sample(x, grid, GridSampleMode.Nearest, GridSamplePaddingMode.Zeros, align_corners: false);
    }

    /// <summary>torchvision's adjust_sharpness: blend with a 3×3 smoothing (centre weight 5 of 13), borders kept.</summary>
    private static Tensor Sharpness(Tensor x, Tensor factors)
    {
        long c = x.shape[1], h = x.shape[2], w = x.shape[3];
        if (h <= 2 || w <= 2) return x;
        var kernel = torch.ones(3, 3);
        kernel[1, 1] = torch.tensor(5f);
        kernel = kernel.Over(13.0).reshape(1, 1, 3, 3).expand(c, 1, 3, 3);
        var smooth = nn.functional.conv2d(x, kernel, null, groups: c);
        var degenerate = x.clone();
        degenerate.narrow(2, 1, h - 2).narrow(3, 1, w - 2).copy_(smooth);
        return Blend(factors, x, degenerate);
    }

    /// <summary>torchvision's equalize on 8-bit levels, per image and channel.</summary>
    private static Tensor Equalize(Tensor x)
    {
        long b = x.shape[0], c = x.shape[1];
        var levels = x.Times(255L).round().Clamped(0.0, 255.0).to_type(ScalarType.Int64);
        var outputs = new Tensor[b * c];
        for (long i = 0; i < b; i++)
            for (long ch = 0; ch < c; ch++)
            {
                var v = levels[i, ch].flatten();
                var hist = v.bincount(null, 256);
                var nonzero = hist.masked_select(hist.NotEqualTo(0));
                long step = (nonzero.sum().item<long>() - nonzero[-1].item<long>()) / 255;
                if (step == 0)
                {
                    outputs[i * c + ch] = x[i, ch];
                    continue;
                }
                var lut = hist.cumsum(0).Plus(step / 2).Over(step, RoundingMode.floor);
                lut = torch.cat([torch.zeros(1, ScalarType.Int64), lut.narrow(0, 0, 255)]).Clamped(0L, 255L);
                outputs[i * c + ch] = lut.index_select(0, v).reshape(x.shape[2], x.shape[3]).to_type(ScalarType.Float32).Over(255.0);
            }
        return torch.stack(outputs).reshape(x.shape);
    }
}
