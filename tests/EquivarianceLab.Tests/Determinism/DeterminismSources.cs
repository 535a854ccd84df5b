using EquivarianceLab.Cards;
using EquivarianceLab.Checkpoints;
using EquivarianceLab.FeatureModels;
using EquivarianceLab.Probes;
using EquivarianceLab.Studies;
using EquivarianceLab.Tests.Equivalence;
using EquivarianceLab.Tests.TestModels;

namespace EquivarianceLab.Tests.Determinism;

/// <summary>One model source to check: the model path <c>eqlab measure --model</c> takes and the probe it is measured on.</summary>
public sealed record DeterminismSource(string Name, string Model, string Probe);

/// <summary>
/// Every model of the shipped zoo (TorchSharp <c>.dat</c> weights, the built-in controls, the ImageNet ONNX graph) and
/// the other sources written once to a temporary folder: zoo weights saved as a PyTorch state_dict and as safetensors
/// (loaded through TorchSharp.PyBridge, each with its card beside it), and a small ONNX graph; with the probes they fit.
/// </summary>
public sealed class DeterminismSources : IDisposable
{
    public const string FashionMnistProbe = "data/fashion-mnist/t10k-images-idx3-ubyte.gz";

    private static readonly Lazy<DeterminismSources> Shared = new(() => new DeterminismSources());
    private readonly string _folder = Directory.CreateTempSubdirectory("eqlab-determinism-").FullName;

    /// <summary>One set for the whole test run (xunit theories need their data before any fixture exists).</summary>
    public static DeterminismSources Instance => Shared.Value;

    public IReadOnlyList<DeterminismSource> All { get; }

    private DeterminismSources()
    {
        var models = RepositoryPaths.ModelsFolder ?? throw new InvalidOperationException("The repository's models/ folder was not found.");
        var fashion = Path.Combine(models, FashionMnistProbe);
        var list = new List<DeterminismSource>();
        var zoo = Zoo.Load();
        // Seed replicas (models/ID-seed1, -seed2: the same eqlab train command as a seed-0 model but for --seed) are left
        // out: they run the same architecture code, with the same layer shapes, on the same probe as their seed-0 model,
        // which is checked here, and the nondeterminism this guards against came from that code and those shapes (the
        // 20-channel convolutions), not from the weights' values. Measuring each twice more would triple the zoo's share.
        foreach (var entry in zoo.Entries.Where(e => e.Folder is not null && !zoo.IsSeedReplica(e)))
        {
            var probe = entry.Card?.Format == ModelLoader.OnnxFormat ? RandomNpy(entry.Id, entry.Card.InputShape) : fashion;
            list.Add(new DeterminismSource(entry.Id, entry.Folder!, probe));
        }
        list.Add(new DeterminismSource("pytorch:cnn7-fmnist6", Resave(models, "cnn7-fmnist6", ".pt"), fashion));
        list.Add(new DeterminismSource("safetensors:cnn7-fmnist6-roteq", Resave(models, "cnn7-fmnist6-roteq", ".safetensors"), fashion));
        var onnx = Path.Combine(_folder, "equivalence-net.onnx");
        using (var net = new EquivalenceNet(seed: 3)) net.ToOnnx("N").Save(onnx);
        list.Add(new DeterminismSource("onnx:equivalence-net", onnx,
            RandomNpy("equivalence-net", [(int)EquivalenceNet.InChannels, (int)EquivalenceNet.Size, (int)EquivalenceNet.Size])));
        All = list;
    }

    public DeterminismSource this[string name] => All.Single(s => s.Name == name);

    public static TheoryData<string> Names(Func<DeterminismSource, bool>? where = null)
    {
        var data = new TheoryData<string>();
        foreach (var s in Instance.All.Where(where ?? (_ => true))) data.Add(s.Name);
        return data;
    }

    /// <summary>A zoo model's weights written in another format, with a card beside it that names that file.</summary>
    private string Resave(string models, string id, string extension)
    {
        var folder = Path.Combine(models, id);
        var card = ModelCard.Load(Path.Combine(folder, "card.json"));
        var file = Path.Combine(_folder, id + extension);
        using (var module = CheckpointIO.Load(Path.Combine(folder, card.File), card)) CheckpointIO.Save(module, file);
        (card with { File = Path.GetFileName(file), Format = CheckpointIO.CardFormat(file) }).Save(file + ".card.json");
        return file;
    }

    /// <summary>32 images of uniform noise in [-1, 1) of the given [C, H, W], as a <c>.npy</c> (used exactly as stored).</summary>
    private string RandomNpy(string name, IReadOnlyList<int> shape)
    {
        const int count = 32;
        var random = new Random(11);
        var data = new float[count * shape[0] * shape[1] * shape[2]];
        for (var i = 0; i < data.Length; i++) data[i] = (float)(random.NextDouble() * 2 - 1);
        var path = Path.Combine(_folder, name + ".npy");
        NpyWriter.Write(path, data, [count, shape[0], shape[1], shape[2]]);
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); }
        catch (IOException) { }
    }
}
