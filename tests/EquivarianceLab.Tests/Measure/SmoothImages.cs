namespace EquivarianceLab.Tests.Measure;

/// <summary>
/// Smooth random images: white noise blurred by a Gaussian of width <c>sigma</c>, on a canvas wide enough that the
/// borders are as smooth as the middle. <c>Objects</c>: centred at zero and faded out beyond the inscribed disc, like
/// an object on a black background, so that no rotation or small shift moves content off the grid.
/// </summary>
internal static class SmoothImages
{
    public static float[] Make(int n, int size, double sigma, int seed) => Blurred(n, size, sigma, seed, objects: false);

    public static float[] Objects(int n, int size, double sigma, int seed) => Blurred(n, size, sigma, seed, objects: true);

    private static float[] Blurred(int n, int size, double sigma, int seed, bool objects)
    {
        var random = new Random(seed);
        int reach = (int)Math.Ceiling(3 * sigma), canvas = size + 2 * reach;
        var kernel = Enumerable.Range(-reach, 2 * reach + 1).Select(d => Math.Exp(-d * d / (2 * sigma * sigma))).ToArray();
        double total = kernel.Sum(), centre = (size - 1) / 2.0, outer = centre - 1, inner = outer - 4;
        var images = new float[n * size * size];
        for (int image = 0; image < n; image++)
        {
            var noise = Enumerable.Range(0, canvas * canvas).Select(_ => random.NextDouble() - (objects ? 0.5 : 0)).ToArray();
            var rows = new double[size * canvas]; // blurred along rows first: [size, canvas]
            for (int i = 0; i < size; i++)
                for (int j = 0; j < canvas; j++)
                    rows[i * canvas + j] = Enumerable.Range(0, kernel.Length).Sum(k => kernel[k] * noise[(i + k) * canvas + j]) / total;
            for (int i = 0; i < size; i++)
                for (int j = 0; j < size; j++)
                {
                    double value = Enumerable.Range(0, kernel.Length).Sum(k => kernel[k] * rows[i * canvas + j + k]) / total;
                    // A cosine fade from the inner to the outer radius.
                    double r = Math.Sqrt((i - centre) * (i - centre) + (j - centre) * (j - centre));
                    double fade = !objects || r <= inner ? 1 : r >= outer ? 0 : 0.5 * (1 + Math.Cos(Math.PI * (r - inner) / (outer - inner)));
                    images[(image * size + i) * size + j] = (float)(value * fade);
                }
        }
        return images;
    }
}
