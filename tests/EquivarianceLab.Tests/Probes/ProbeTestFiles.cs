using SkiaSharp;

namespace EquivarianceLab.Tests.Probes;

/// <summary>A temporary folder deleted after the test.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("eqlab-probes-").FullName;
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

internal static class ProbeTestFiles
{
    /// <summary>The checkout's root: the folder holding EquivarianceLab.sln.</summary>
    public static string RepositoryRoot() =>
        FeatureModels.RepositoryPaths.Root ?? throw new InvalidOperationException("The repository root was not found above " + AppContext.BaseDirectory);

    /// <summary>A PNG (or JPEG) whose pixel (x, y) has <paramref name="color"/>(x, y).</summary>
    public static byte[] Image(int width, int height, Func<int, int, SKColor> color, SKEncodedImageFormat format = SKEncodedImageFormat.Png)
    {
        using var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                bitmap.SetPixel(x, y, color(x, y));
        using var stream = new MemoryStream();
        Assert.True(bitmap.Encode(stream, format, 95));
        return stream.ToArray();
    }

    public static byte[] Solid(int width, int height, SKColor color, SKEncodedImageFormat format = SKEncodedImageFormat.Png) =>
        Image(width, height, (_, _) => color, format);

    public static float[] Floats(TorchSharp.torch.Tensor t) => t.numel() == 0 ? [] : t.data<float>().ToArray();

    public static EquivarianceLabException Fails(Action action) => Assert.Throws<EquivarianceLabException>(action);
}
