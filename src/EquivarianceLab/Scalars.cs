using TorchSharp;
using static TorchSharp.torch;

// The one place allowed to create TorchSharp Scalars (BannedSymbols.txt bans it everywhere else).
#pragma warning disable RS0030

namespace EquivarianceLab;

/// <summary>
/// Tensor arithmetic with numbers, done so that no native Scalar can be freed while libtorch reads it.
/// </summary>
/// <remarks>
/// TorchSharp turns every number in tensor arithmetic into a <see cref="Scalar"/> (<c>x * 2</c>, <c>x &gt; 0</c>,
/// and even <c>a + b</c>, which passes an alpha of 1), hands its native handle to libtorch and keeps no reference
/// to it. The GC may then finalize that temporary on another thread while libtorch is still reading it: a rare
/// crash ("Expected false to be true" in <c>Scalar::toFloat</c>, seen in CI while a WideResNet added its shortcut)
/// or, worse, an addition with a wrong alpha. Here every Scalar is either a process-lifetime constant or disposed
/// only after the call that reads it has returned. The build bans the TorchSharp calls that make temporaries.
/// </remarks>
public static class Scalars
{
    /// <summary>Lives as long as the process, so the GC never frees it.</summary>
    private static readonly Scalar One = 1.ToScalar();

    /// <summary><c>a + b</c>.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><c>a += b</c>, in place.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary><c>x + value</c>.</summary>
    public static Tensor Plus(this Tensor x, double value) { using var s = value.ToScalar(); return x.add(s, One); }

    /// <summary><c>x + value</c> for integer tensors, which stay integer.</summary>
    public static Tensor Plus(this Tensor x, long value) { using var s = value.ToScalar(); return x.add(s, One); }

    /// <summary><c>x − value</c>.</summary>
    public static Tensor Minus(this Tensor x, double value) { using var s = value.ToScalar(); return x.sub(s); }

    /// <summary><c>value − x</c>.</summary>
    public static Tensor SubtractedFrom(this Tensor x, double value) { using var s = value.ToScalar(); return x.neg().add_(s, One); }

    /// <summary><c>x · factor</c>.</summary>
    public static Tensor Times(this Tensor x, double factor) { using var s = factor.ToScalar(); return x.mul(s); }

    /// <summary><c>x · factor</c> for integer factors (an integer tensor stays integer).</summary>
    public static Tensor Times(this Tensor x, long factor) { using var s = factor.ToScalar(); return x.mul(s); }

    /// <summary><c>x ·= factor</c>, in place.</summary>
    public static Tensor TimesInPlace(this Tensor x, double factor) { using var s = factor.ToScalar(); return x.mul_(s); }

    /// <summary><c>x / divisor</c>.</summary>
    public static Tensor Over(this Tensor x, double divisor) { using var s = divisor.ToScalar(); return x.div(s); }

    /// <summary><c>x / divisor</c> rounded as asked (for integer tensors).</summary>
    public static Tensor Over(this Tensor x, long divisor, RoundingMode rounding) { using var s = divisor.ToScalar(); return x.div(s, rounding); }

    /// <summary><c>x</c> clamped to [min, max].</summary>
    public static Tensor Clamped(this Tensor x, double min, double max)
    {
        using var lo = min.ToScalar();
        using var hi = max.ToScalar();
        return x.clamp(lo, hi);
    }

    /// <summary><c>x</c> clamped to [min, max] for integer tensors, which stay integer.</summary>
    public static Tensor Clamped(this Tensor x, long min, long max)
    {
        using var lo = min.ToScalar();
        using var hi = max.ToScalar();
        return x.clamp(lo, hi);
    }

    /// <summary><c>max(x, min)</c>.</summary>
    public static Tensor ClampedBelow(this Tensor x, double min) { using var s = min.ToScalar(); return x.clamp_min(s); }

    /// <summary><c>x &gt; value</c>.</summary>
    public static Tensor GreaterThan(this Tensor x, double value) { using var s = value.ToScalar(); return x.gt(s); }

    /// <summary><c>x ≥ value</c>.</summary>
    public static Tensor AtLeast(this Tensor x, double value) { using var s = value.ToScalar(); return x.ge(s); }

    /// <summary><c>x ≠ value</c>.</summary>
    public static Tensor NotEqualTo(this Tensor x, long value) { using var s = value.ToScalar(); return x.ne(s); }

    /// <summary><c>x</c> with <paramref name="value"/> where <paramref name="mask"/> is true.</summary>
    public static Tensor MaskedFill(this Tensor x, Tensor mask, double value) { using var s = value.ToScalar(); return x.masked_fill(mask, s); }

    /// <summary><see cref="MaskedFill"/>, in place.</summary>
    public static Tensor MaskedFillInPlace(this Tensor x, Tensor mask, double value) { using var s = value.ToScalar(); return x.masked_fill_(mask, s); }

    /// <summary><c>start, start + step, … &lt; stop</c> as a 1-D tensor.</summary>
    public static Tensor Range(long start, long stop, long step = 1, ScalarType dtype = ScalarType.Int64)
    {
        using var a = start.ToScalar();
        using var b = stop.ToScalar();
        using var s = step.ToScalar();
        return arange(a, b, s, dtype);
    }

    /// <summary>Sets every element of a parameter to <paramref name="value"/> (no gradient recorded).</summary>
    public static Tensor FillWith(this Tensor x, double value) { using var s = value.ToScalar(); return nn.init.constant_(x, s); }
}
