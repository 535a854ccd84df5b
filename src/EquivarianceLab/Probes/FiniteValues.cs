using System.Numerics;
using System.Runtime.InteropServices;
using TorchSharp;

namespace EquivarianceLab.Probes;

/// <summary>
/// Probe images must hold finite numbers: a NaN or ±Inf pixel makes every feature it reaches NaN, and the measure
/// counts NaN vectors as degenerate, so a bad image used to vanish silently into <c>null</c> scores.
/// </summary>
internal static class FiniteValues
{
    // A float32 is NaN or ±Inf exactly when all its exponent bits are set.
    private const uint ExponentBits = 0x7F80_0000;

    /// <summary>The index of the first NaN or ±Inf in <paramref name="values"/>, or -1 when all are finite.</summary>
    public static int FirstNonFinite(ReadOnlySpan<float> values)
    {
        var bits = MemoryMarshal.Cast<float, uint>(values);
        var exponent = new Vector<uint>(ExponentBits);
        int i = 0;
        // Vectorised: the check runs at memory speed, so validating a whole file costs no more than reading it.
        for (; i <= bits.Length - Vector<uint>.Count; i += Vector<uint>.Count)
            if (Vector.EqualsAny(new Vector<uint>(bits[i..]) & exponent, exponent)) break;
        for (; i < bits.Length; i++)
            if ((bits[i] & ExponentBits) == ExponentBits) return i;
        return -1;
    }

    /// <summary>The error for image <paramref name="index"/> of <paramref name="probeName"/>.</summary>
    public static EquivarianceLabException NotFinite(string probeName, long index) =>
        new($"{Messages.Untrusted(probeName)}: image {index} contains NaN or infinite values; probe images must be finite.");

    /// <summary>
    /// Throws <see cref="NotFinite"/> for the first image of <paramref name="batch"/> (<c>[n, …]</c>, holding images
    /// <paramref name="start"/>…) that holds a NaN or ±Inf.
    /// </summary>
    public static void Check(torch.Tensor batch, long start, string probeName)
    {
        if (batch.numel() == 0) return;
        bool plain = batch.dtype == torch.ScalarType.Float32 && batch.device_type == DeviceType.CPU && batch.is_contiguous();
        using var scope = torch.NewDisposeScope(); // the conversion's result is a temporary (docs/architecture.md)
        var values = plain ? null : batch.to(torch.ScalarType.Float32, torch.CPU).contiguous();
        var data = MemoryMarshal.Cast<byte, float>((values ?? batch).bytes);
        int bad = FirstNonFinite(data);
        if (bad < 0) return;
        long perImage = batch.numel() / batch.shape[0];
        throw NotFinite(probeName, start + bad / perImage);
    }
}
