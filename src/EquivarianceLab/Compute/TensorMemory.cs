using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace EquivarianceLab.Compute;

/// <summary>Where a CPU tensor's data lives, for code that hands it to native libraries or reads it from parallel tasks.</summary>
internal static class TensorMemory
{
    // TorchSharp exposes a tensor's data only as a span over native memory. Native memory does not move, so the
    // span's start address is stable (computed without an unsafe context).
    public static IntPtr AddressOf(Span<byte> span) =>
        Unsafe.ByteOffset(ref Unsafe.NullRef<byte>(), ref MemoryMarshal.GetReference(span));

    /// <summary>
    /// The values of a tensor of element type <typeparamref name="T"/>, copied from one contiguous CPU view (TorchSharp's
    /// data accessor copies element by element, which showed in the measure's profile).
    /// </summary>
    public static T[] ToArray<T>(Tensor tensor) where T : unmanaged
    {
        using var scope = NewDisposeScope(); // cpu()'s result is a temporary (docs/architecture.md)
        var values = tensor.cpu().contiguous();
        return MemoryMarshal.Cast<byte, T>(values.bytes).ToArray();
    }

    /// <summary>The address of a contiguous CPU tensor's first element.</summary>
    public static IntPtr AddressOf(Tensor tensor) => AddressOf(tensor.bytes);
}
