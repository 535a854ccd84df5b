using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Measure;

public enum LayerKind { Spatial, Vector }

/// <summary>
/// How a layer's raw tensor becomes a spatial map <c>[N, C, h, w]</c> or a vector <c>[N, C]</c>
/// (docs/measure.md, "Feature tensors").
/// </summary>
public sealed record FeatureLayout(LayerKind Kind, int PrefixTokens)
{
    public static FeatureLayout Of(string layer, ReadOnlySpan<long> shape)
    {
        switch (shape.Length)
        {
            case 2:
                return new FeatureLayout(LayerKind.Vector, 0);
            case 4:
                return new FeatureLayout(shape[2] * shape[3] >= 2 ? LayerKind.Spatial : LayerKind.Vector, 0);
            case 3:
                long tokens = shape[1];
                for (int p = 0; p <= 2; p++)
                {
                    long s = (long)Math.Round(Math.Sqrt(tokens - p));
                    if (s > 1 && s * s == tokens - p) return new FeatureLayout(LayerKind.Spatial, p);
                }
                throw new EquivarianceLabException(
                    $"Layer '{layer}' has token shape [{string.Join(",", shape.ToArray())}]: {tokens} tokens is not a square grid " +
                    "after dropping 0, 1 or 2 prefix tokens.");
            default:
                throw new EquivarianceLabException(
                    $"Layer '{layer}' has shape [{string.Join(",", shape.ToArray())}]; a measured layer must be [N,C,H,W], [N,C] or tokens [N,T,D].");
        }
    }

    /// <summary>Spatial: <c>[N, C, h, w]</c>; vector: <c>[N, C]</c>. May return a view of <paramref name="raw"/>.</summary>
    public Tensor Canonical(Tensor raw)
    {
        if (Kind == LayerKind.Vector) return raw.reshape(raw.shape[0], raw.shape[1]);
        if (raw.dim() == 4) return raw;
        // Tokens [N, T, D]: drop the prefix, grid the rest row-major, channels first.
        long n = raw.shape[0], t = raw.shape[1] - PrefixTokens, d = raw.shape[2];
        long s = (long)Math.Round(Math.Sqrt(t));
        return raw.narrow(1, PrefixTokens, t).permute(0, 2, 1).reshape(n, d, s, s);
    }
}
