using TorchSharp;

namespace EquivarianceLab.Probes;

internal static class ProbeTensors
{
    /// <summary>A float32 CPU tensor [n, C, H, W] holding a copy of <paramref name="data"/>.</summary>
    public static torch.Tensor FromFloats(float[] data, int n, IReadOnlyList<long> imageShape) =>
        torch.tensor(data, [n, imageShape[0], imageShape[1], imageShape[2]], torch.ScalarType.Float32);

    public static void CheckRange(int start, int count, int total)
    {
        if (start < 0 || count < 0 || start > total || count > total - start)
            throw new ArgumentOutOfRangeException(nameof(start), $"Batch [{start}, {start}+{count}) is outside the probe set of {total} images.");
    }

    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(",", shape) + "]";
}
