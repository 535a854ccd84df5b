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

    /// <summary>The address of a contiguous CPU tensor's first element.</summary>
    public static IntPtr AddressOf(Tensor tensor) => AddressOf(tensor.bytes);
}
