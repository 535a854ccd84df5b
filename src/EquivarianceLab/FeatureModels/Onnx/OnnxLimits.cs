namespace EquivarianceLab.FeatureModels.Onnx;

/// <summary>
/// Static limits on an ONNX graph, checked from the parsed file before ONNX Runtime sees it (no session is created
/// for a graph that breaks one). They keep a small hostile file from making ONNX Runtime allocate gigabytes or run
/// without end. The defaults admit every model of the zoo; the web app may set its own.
/// </summary>
public sealed record OnnxLimits
{
    /// <summary>
    /// Most values in one input image, C×H×W (the batch dim excluded), whether the graph declares the size or the
    /// probe set (or the caller) gives it for free dims. 3×1024×1024; an ImageNet model takes 3×224×224.
    /// </summary>
    public long MaxInputElements { get; init; } = 3L * 1024 * 1024;

    /// <summary>Most nodes in the graph, its subgraphs and functions together. ResNet-50 has ≈ 180, a ViT-L ≈ 2 000.</summary>
    public int MaxNodes { get; init; } = 100_000;

    /// <summary>
    /// Whether tensors may keep their data in files beside the model (ONNX external data). Such a file must lie in
    /// the model's folder either way; an upload that arrives as a single file has no business naming one.
    /// </summary>
    public bool AllowExternalData { get; init; } = true;

    public static OnnxLimits Default { get; } = new();

    /// <summary>The product of <paramref name="dims"/>, or <see cref="long.MaxValue"/> when it overflows (hostile dims).</summary>
    internal static long ElementsOf(IEnumerable<long> dims)
    {
        long product = 1;
        foreach (var d in dims)
        {
            if (d != 0 && product > long.MaxValue / d) return long.MaxValue;
            product *= d;
        }
        return product;
    }

    /// <summary>"3145728 (3×1024×1024)" for the default, the plain number otherwise.</summary>
    internal string DescribeMaxInputElements() =>
        MaxInputElements == Default.MaxInputElements ? $"{MaxInputElements} (3×1024×1024)" : MaxInputElements.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
