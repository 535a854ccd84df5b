using System.Globalization;
using System.Text;
using EquivarianceLab.Probes;

namespace EquivarianceLab.Training;

/// <summary>
/// Which Fashion-MNIST classes look like 90°-rotations of themselves or of each other (how FMNIST-6 is chosen; see
/// docs/training.md). Rotations are by k·90° (numpy rot90), measured on the training set:
/// <list type="bullet">
/// <item><c>MeanImage[a, b]</c> (reported, not used): the largest Pearson correlation over k = 1..3 between the rotated
/// mean image of class a and the mean image of class b. Every class mean is a centred blob, so this is high everywhere.</item>
/// <item><c>Confusion[a, b]</c>: the fraction of images of class a whose nearest prototype (Pearson) among the 40
/// rotated class means rot_k(mean_b), k = 0..3, is a rotated one (k ≠ 0) of class b: those images look more like a
/// rotation of b than like any upright class, their own included.</item>
/// <item><c>PairScore</c>: <c>Confusion[a, a]</c> on the diagonal; the mean of both directions off it.</item>
/// </list>
/// The four dropped classes are chosen greedily on <c>PairScore</c>: take the highest remaining entry (a, b) — a = b
/// included — and drop a if a = b, else the one of the two with the larger total score against the remaining classes;
/// repeat four times.
/// </summary>
public sealed class RotationSimilarity
{
    public const int Classes = 10;
    private const int Side = 28;

    public required double[,] MeanImage { get; init; }
    /// <summary>Fraction of images of class a (row) nearest to a rotated (k ≠ 0) mean of class b (column).</summary>
    public required double[,] Confusion { get; init; }
    /// <summary>The choice's pair score: <c>Confusion[a, a]</c> on the diagonal, (<c>Confusion[a, b]</c> + <c>Confusion[b, a]</c>) / 2 off it.</summary>
    public required double[,] PairScore { get; init; }
    /// <summary>Nearest-class-mean accuracy on unrotated images, for scale.</summary>
    public required double UnrotatedNearestMeanAccuracy { get; init; }
    public required IReadOnlyList<int> Dropped { get; init; }
    public required IReadOnlyList<string> Steps { get; init; }

    public static RotationSimilarity Compute(IdxImages images, byte[] labels, int dropCount = 4)
    {
        if (images.Height != Side || images.Width != Side)
            throw new EquivarianceLabException($"Rotation similarity expects 28×28 Fashion-MNIST images, not {images.Height}×{images.Width}.");
        int n = images.Count, px = Side * Side;
        var means = new double[Classes][];
        var counts = new int[Classes];
        for (int c = 0; c < Classes; c++) means[c] = new double[px];
        for (int i = 0; i < n; i++)
        {
            int c = labels[i];
            counts[c]++;
            var m = means[c];
            for (int p = 0; p < px; p++) m[p] += images.Pixels[i * px + p];
        }
        for (int c = 0; c < Classes; c++)
            for (int p = 0; p < px; p++) means[c][p] /= Math.Max(1, counts[c]);
        var centred = means.Select(Centre).ToArray();

        var meanImage = new double[Classes, Classes];
        for (int a = 0; a < Classes; a++)
            for (int b = 0; b < Classes; b++)
            {
                double best = double.NegativeInfinity;
                for (int k = 1; k <= 3; k++) best = Math.Max(best, Dot(Centre(Rot90(means[a], k)), centred[b]));
                meanImage[a, b] = best;
            }

        // Prototypes: the 40 rotated class means rot_k(mean_b), k = 0..3. An image of class a whose nearest prototype
        // is a rotated one (k != 0) of class b looks more like a rotation of b than like any upright class.
        var prototypes = new double[Classes * 4][];
        for (int b = 0; b < Classes; b++)
            for (int k = 0; k < 4; k++) prototypes[b * 4 + k] = k == 0 ? centred[b] : Centre(Rot90(means[b], k));
        var confusion = new double[Classes, Classes];
        int correct = 0;
        var image = new double[px];
        for (int i = 0; i < n; i++)
        {
            for (int p = 0; p < px; p++) image[p] = images.Pixels[i * px + p];
            var c = Centre(image);
            if (Nearest(c, centred) == labels[i]) correct++;
            int nearest = Nearest(c, prototypes);
            if (nearest % 4 != 0) confusion[labels[i], nearest / 4]++;
        }
        for (int a = 0; a < Classes; a++)
            for (int b = 0; b < Classes; b++) confusion[a, b] /= Math.Max(1, counts[a]);
        var pairs = new double[Classes, Classes];
        for (int a = 0; a < Classes; a++)
            for (int b = 0; b < Classes; b++) pairs[a, b] = a == b ? confusion[a, a] : (confusion[a, b] + confusion[b, a]) / 2;

        var (dropped, steps) = Choose(pairs, dropCount);
        return new RotationSimilarity
        {
            MeanImage = meanImage,
            Confusion = confusion,
            PairScore = pairs,
            UnrotatedNearestMeanAccuracy = n == 0 ? 0 : (double)correct / n,
            Dropped = dropped,
            Steps = steps,
        };
    }

    /// <summary>The greedy choice described on the class, with one line per step saying why.</summary>
    public static (IReadOnlyList<int> Dropped, IReadOnlyList<string> Steps) Choose(double[,] similarity, int dropCount)
    {
        var remaining = Enumerable.Range(0, Classes).ToList();
        var dropped = new List<int>();
        var steps = new List<string>();
        for (int s = 0; s < dropCount; s++)
        {
            (int a, int b, double v) best = (-1, -1, double.NegativeInfinity);
            foreach (var a in remaining)
                foreach (var b in remaining.Where(b => b >= a))
                    if (similarity[a, b] > best.v) best = (a, b, similarity[a, b]);
            int drop;
            string why;
            if (best.a == best.b)
            {
                drop = best.a;
                why = $"{FashionMnistClasses.Names[drop]} is most like its own rotations ({best.v:F3})";
            }
            else
            {
                double Total(int c) => remaining.Where(o => o != c).Sum(o => similarity[c, o]);
                drop = Total(best.a) >= Total(best.b) ? best.a : best.b;
                int kept = drop == best.a ? best.b : best.a;
                why = $"rotated {FashionMnistClasses.Names[best.a]} and {FashionMnistClasses.Names[best.b]} are the most similar pair ({best.v:F3}); " +
                      $"{FashionMnistClasses.Names[drop]} goes (total similarity {Total(drop):F3} vs {Total(kept):F3})";
            }
            remaining.Remove(drop);
            dropped.Add(drop);
            steps.Add(why);
        }
        dropped.Sort();
        return (dropped, steps);
    }

    public string Format()
    {
        var sb = new StringBuilder();
        string Row(string label, Func<int, double> value) =>
            label.PadRight(12) + string.Concat(Enumerable.Range(0, Classes).Select(b => value(b).ToString("F3", CultureInfo.InvariantCulture).PadLeft(8)));
        string header = "".PadRight(12) + string.Concat(FashionMnistClasses.Short.Select(s => s.PadLeft(8)));
        sb.AppendLine("Mean-image similarity: max over k=1..3 of Pearson(rot_k(mean_a), mean_b)");
        sb.AppendLine(header);
        for (int a = 0; a < Classes; a++) sb.AppendLine(Row(FashionMnistClasses.Short[a], b => MeanImage[a, b]));
        sb.AppendLine();
        sb.AppendLine("Rotated-prototype confusion: fraction of images of class a (rows) whose nearest of the 40 prototypes rot_k(mean_b), k=0..3,");
        sb.AppendLine("is a rotated one (k=1..3) of class b (columns)");
        sb.AppendLine(header);
        for (int a = 0; a < Classes; a++) sb.AppendLine(Row(FashionMnistClasses.Short[a], b => Confusion[a, b]));
        sb.AppendLine();
        sb.AppendLine("Pair score (the choice): diagonal = own rotations, off-diagonal = mean of both directions");
        sb.AppendLine(header);
        for (int a = 0; a < Classes; a++) sb.AppendLine(Row(FashionMnistClasses.Short[a], b => PairScore[a, b]));
        sb.AppendLine();
        sb.AppendLine($"Nearest-class-mean accuracy on unrotated images: {UnrotatedNearestMeanAccuracy:P1}");
        for (int i = 0; i < Steps.Count; i++) sb.AppendLine($"Step {i + 1}: {Steps[i]}");
        sb.AppendLine($"Dropped: {string.Join(", ", Dropped.Select(c => $"{c} {FashionMnistClasses.Names[c]}"))}");
        return sb.ToString();
    }

    /// <summary>numpy <c>rot90(img, k)</c> on a 28×28 row-major image: counter-clockwise by k·90°.</summary>
    internal static double[] Rot90(double[] img, int k)
    {
        var r = new double[img.Length];
        for (int y = 0; y < Side; y++)
            for (int x = 0; x < Side; x++)
            {
                // numpy rot90 (k=1): out[i, j] = in[j, W-1-i]
                int sy = y, sx = x;
                for (int t = 0; t < (k & 3); t++) (sy, sx) = (sx, Side - 1 - sy);
                r[y * Side + x] = img[sy * Side + sx];
            }
        return r;
    }

    private static double[] Centre(double[] v)
    {
        double mean = v.Average();
        var c = v.Select(x => x - mean).ToArray();
        double norm = Math.Sqrt(c.Sum(x => x * x));
        if (norm > 0) for (int i = 0; i < c.Length; i++) c[i] /= norm;
        return c;
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    private static int Nearest(double[] v, double[][] centred)
    {
        int best = 0;
        double bestValue = double.NegativeInfinity;
        for (int c = 0; c < centred.Length; c++)
        {
            double d = Dot(v, centred[c]);
            if (d > bestValue) { bestValue = d; best = c; }
        }
        return best;
    }
}

/// <summary>The ten Fashion-MNIST classes.</summary>
public static class FashionMnistClasses
{
    public static IReadOnlyList<string> Names { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    public static IReadOnlyList<string> Short { get; } = ["Tshirt", "Trouser", "Pullov", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"];
}
