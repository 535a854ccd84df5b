using System.Text;
using EquivarianceLab.Probes;
using EquivarianceLab.Tests.TestModels;

namespace EquivarianceLab.Tests.Cli;

/// <summary>
/// Inputs for the command-line tests, written once to a temporary folder: ONNX graphs, <c>.npy</c> probes (good and
/// bad), corrupt model files; and the happy-path measurement, run once and shared by the tests that inspect it.
/// </summary>
public sealed class EqlabFixture : IDisposable
{
    /// <summary>The fixed-size graph's tensors in forward order: (name, shape without the batch, in the default selection).</summary>
    /// <summary>Every tensor of the model with its producing op, and the part the default selection gives it (null: not selected).</summary>
    public static readonly IReadOnlyList<(string Name, long[] Shape, string Op, string? Part)> GraphTensors =
    [
        ("stem", [4, 8, 8], "Conv", null), ("relu1", [4, 8, 8], "Relu", "Early"),
        ("conv2", [6, 4, 4], "Conv", null), ("block", [6, 4, 4], "Relu", "Middle"),
        ("conv3", [6, 4, 4], "Conv", null), ("relu3", [6, 4, 4], "Relu", "Late"),
        ("head_pool", [6, 1, 1], "GlobalAveragePool", "Pool"), ("flat", [6], "Flatten", null),
        ("logits", [3], "Gemm", "Final"), ("probs", [3], "Softmax", null),
    ];

    /// <summary>The happy path's --layers: in forward order, neither alphabetical nor the default selection, one pre-activation.</summary>
    public static readonly string[] HappyLayers = ["stem", "block", "head_pool"];
    public const int HappyImages = 5, HappyMaxShift = 3, ProbeCount = 7, Size = 8;

    private readonly Lazy<EqlabRun> _happy;

    public EqlabFixture()
    {
        Folder = Directory.CreateTempSubdirectory("eqlab-cli-").FullName;
        var random = new Random(17);
        float[] W(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();

        // x [N,1,8,8] → Conv+Relu, strided Conv+Relu, Conv+Relu → GlobalAveragePool → Flatten → Gemm → Softmax.
        var b = new OnnxGraphBuilder(opset: 13);
        var x = b.Input("x", "N", 1, Size, Size);
        var r1 = b.Relu(b.Conv(x, W(4 * 9), [4, 1, 3, 3], W(4), pads: [1], output: "stem"), "relu1");
        var r2 = b.Relu(b.Conv(r1, W(6 * 4 * 9), [6, 4, 3, 3], W(6), pads: [1], strides: [2], output: "conv2"), "block");
        var r3 = b.Relu(b.Conv(r2, W(6 * 6 * 9), [6, 6, 3, 3], W(6), pads: [1], output: "conv3"), "relu3");
        var pool = b.GlobalAveragePool(r3, "head_pool");
        var logits = b.Gemm(b.Flatten(pool, output: "flat"), W(18), 3, 6, W(3), "logits");
        b.Output(b.Softmax(logits, axis: 1, output: "probs"), "N", 3);
        Model = b.Save(File("model.onnx"));

        // Free spatial dims: any image size loads, so a non-square probe reaches the rotation check.
        var f = new OnnxGraphBuilder(opset: 13);
        var fx = f.Input("x", "N", 1, "H", "W");
        var fr = f.Relu(f.Conv(fx, W(4 * 9), [4, 1, 3, 3], W(4), pads: [1], output: "conv"), "relu");
        f.Output(f.Gemm(f.Flatten(f.GlobalAveragePool(fr, "pool"), output: "flat"), W(8), 2, 4, W(2), "logits"));
        FreeModel = f.Save(File("free.onnx"));

        ProbeData = Enumerable.Range(0, ProbeCount * Size * Size).Select(_ => (float)random.NextDouble()).ToArray();
        Probe = File("probe.npy");
        NpyWriter.Write(Probe, ProbeData, [ProbeCount, 1, Size, Size]);

        WrongShapeProbe = File("rgb.npy");
        NpyWriter.Write(WrongShapeProbe, W(2 * 3 * Size * Size), [2, 3, Size, Size]);
        NonSquareProbe = File("wide.npy");
        NpyWriter.Write(NonSquareProbe, W(2 * 1 * Size * 10), [2, 1, Size, 10]);
        Float64Probe = File("float64.npy");
        WriteFloat64Npy(Float64Probe, W(2 * Size * Size).Select(v => (double)v).ToArray());

        TextModel = File("notes.onnx");
        System.IO.File.WriteAllText(TextModel, "These are my notes about the model, not the model.\n");
        TruncatedModel = File("truncated.onnx");
        var bytes = System.IO.File.ReadAllBytes(Model);
        System.IO.File.WriteAllBytes(TruncatedModel, bytes[..(bytes.Length / 2)]);
        MissingModel = File("missing.onnx");

        var root = FeatureModels.RepositoryPaths.Root ?? throw new InvalidOperationException("Repository root not found.");
        FashionMnist = Path.Combine(root, "models", "data", "fashion-mnist", "t10k-images-idx3-ubyte.gz");

        _happy = new Lazy<EqlabRun>(() => Eqlab.Run(Folder,
            "measure", "--model", Model, "--probe", Probe, "--transform", "translation",
            "--max-shift", $"{HappyMaxShift}", "--images", $"{HappyImages}", "--batch", "2",
            "--layers", string.Join(',', HappyLayers), "--out", "r.json", "--csv", "r.csv", "--matching-csv", "r-matching.csv"));
    }

    public string Folder { get; }
    public string Model { get; }
    public string FreeModel { get; }
    public string Probe { get; }
    public float[] ProbeData { get; }
    public string WrongShapeProbe { get; }
    public string NonSquareProbe { get; }
    public string Float64Probe { get; }
    public string TextModel { get; }
    public string TruncatedModel { get; }
    public string MissingModel { get; }
    public string FashionMnist { get; }

    /// <summary>The happy-path measurement (run on first use); it writes r.json and r.csv into <see cref="Folder"/>.</summary>
    public EqlabRun Happy => _happy.Value;

    public string File(string name) => Path.Combine(Folder, name);

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); }
        catch (IOException) { }
    }

    /// <summary>A little-endian float64 [2,1,8,8] .npy, header padded as numpy pads it (data on a 64-byte boundary).</summary>
    private static void WriteFloat64Npy(string path, double[] data)
    {
        const string dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 1, 8, 8), }";
        int headerLength = (10 + dict.Length + 1 + 63) / 64 * 64 - 10;
        var header = dict + new string(' ', headerLength - dict.Length - 1) + "\n";
        using var stream = new FileStream(path, FileMode.Create);
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
        stream.Write(BitConverter.GetBytes((ushort)headerLength));
        stream.Write(Encoding.ASCII.GetBytes(header));
        foreach (var v in data) stream.Write(BitConverter.GetBytes(v));
    }
}
