using System.Text.Json;
using EquivarianceLab.Architectures;
using EquivarianceLab.Cards;
using EquivarianceLab.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Checkpoints;

public sealed class CheckpointIOTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eqlab-checkpoints-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static ModelCard Card(string architecture, string file, params (string, int)[] options) => new()
    {
        Id = "test",
        DisplayName = "test",
        Format = CheckpointIO.CardFormat(file),
        File = Path.GetFileName(file),
        Architecture = architecture,
        ArchitectureOptions = ArchitectureOptions.From(options),
        InputShape = [1, 28, 28],
    };

    /// <summary>A module with non-trivial weights and batch-norm statistics (a few forward passes in training mode).</summary>
    private static nn.Module<Tensor, Tensor> Trained(string architecture, params (string, int)[] options)
    {
        torch.manual_seed(1);
        var m = ArchitectureRegistry.Create(architecture, ArchitectureOptions.From(options));
        m.train();
        using (torch.no_grad())
        {
            for (int i = 0; i < 3; i++)
            {
                using var x = torch.randn(8, options.First(o => o.Item1 == "inChannels").Item2, 28, 28).Times(2.0).Plus(0.5);
                m.call(x).Dispose();
            }
            foreach (var p in m.parameters()) p.PlusInPlace(torch.randn_like(p).Times(0.01));
        }
        m.eval();
        return m;
    }

    [Theory]
    [InlineData("cnn7", ".dat")]
    [InlineData("cnn7", ".pt")]
    [InlineData("cnn7", ".pth")]
    [InlineData("cnn7", ".safetensors")]
    [InlineData("vit-small", ".dat")]
    [InlineData("vit-small", ".pt")]
    [InlineData("vit-small", ".safetensors")]
    [InlineData("resnet20", ".safetensors")]
    [InlineData("wrn16", ".pt")]
    [InlineData("mixer-small", ".pth")]
    [InlineData("resnet18", ".pt")]
    public void RoundTripGivesIdenticalOutputs(string architecture, string extension)
    {
        (string, int)[] options = [("inChannels", 1), ("classes", 6)];
        using var original = Trained(architecture, options);
        var file = PathOf(architecture + extension);
        CheckpointIO.Save(original, file);
        Assert.True(File.Exists(file));
        Assert.False(File.Exists(file + ".tmp"));

        using var loaded = CheckpointIO.Load(file, Card(architecture, file, options));
        Assert.False(loaded.training);
        using var _ = torch.no_grad();
        using var x = torch.randn(4, 1, 28, 28);
        using var a = original.call(x);
        using var b = loaded.call(x);
        Assert.True(a.allclose(b, rtol: 0, atol: 0), $"{architecture}{extension}: outputs differ by {(a - b).abs().max().item<float>()}");
        var sa = original.state_dict();
        var sb = loaded.state_dict();
        Assert.Equal(sa.Keys.Order(), sb.Keys.Order());
        foreach (var key in sa.Keys) Assert.True(sa[key].allclose(sb[key], rtol: 0, atol: 0), key);
    }

    [Fact]
    public void PyTorchAndSafetensorsFilesHaveTheStateDictKeys()
    {
        using var m = Trained("cnn7", ("inChannels", 1));
        CheckpointIO.Save(m, PathOf("a.pt"));
        CheckpointIO.Save(m, PathOf("a.safetensors"));
        foreach (var f in new[] { "a.pt", "a.safetensors" })
        {
            var sd = CheckpointIO.ReadStateDict(PathOf(f));
            try
            {
                Assert.Equal(m.state_dict().Keys.Order(), sd.Keys.Order());
                Assert.Equal([20L, 1, 3, 3], sd["layers.0.conv.weight"].shape);
            }
            finally
            {
                foreach (var t in sd.Values) t.Dispose();
            }
        }
    }

    [Fact]
    public void MismatchedShapesAreListed()
    {
        using var m = Trained("cnn7", ("inChannels", 1), ("classes", 6));
        var file = PathOf("six.pt");
        CheckpointIO.Save(m, file);
        var e = Assert.Throws<EquivarianceLabException>(() => CheckpointIO.Load(file, Card("cnn7", file, ("inChannels", 1), ("classes", 10))));
        Assert.Contains("six.pt does not fit cnn7", e.Message);
        Assert.Contains("fc.weight is [6, 20] in the file but [10, 20] in the model", e.Message);
        Assert.Contains("fc.bias is [6] in the file but [10] in the model", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void MissingAndUnexpectedKeysAreListedFirstFew()
    {
        using var m = Trained("cnn7", ("inChannels", 1));
        var file = PathOf("cnn.safetensors");
        CheckpointIO.Save(m, file);
        var e = Assert.Throws<EquivarianceLabException>(() => CheckpointIO.Load(file, Card("resnet20", file, ("inChannels", 1))));
        Assert.Contains("missing keys conv1.weight, bn1.weight", e.Message);
        Assert.Contains("unexpected keys layers.0.conv.weight", e.Message);
        Assert.Contains("more)", e.Message); // only the first few are listed
        Assert.True(e.Message.Length < 1200, e.Message);
    }

    [Fact]
    public void DataParallelPrefixAndMissingBatchNormCounterAreAccepted()
    {
        using var m = Trained("cnn7", ("inChannels", 1));
        var sd = m.state_dict()
            .Where(kv => !kv.Key.EndsWith("num_batches_tracked", StringComparison.Ordinal))
            .ToDictionary(kv => "module." + kv.Key, kv => kv.Value);
        var file = PathOf("dp.safetensors");
        TorchSharp.PyBridge.Safetensors.SaveStateDict(file, sd);
        using var loaded = CheckpointIO.Load(file, Card("cnn7", file, ("inChannels", 1)));
        using var x = torch.randn(2, 1, 28, 28);
        using var _ = torch.no_grad();
        Assert.True(m.call(x).allclose(loaded.call(x), rtol: 0, atol: 0));
    }

    [Theory]
    [InlineData(".dat")]
    [InlineData(".pt")]
    [InlineData(".safetensors")]
    public void CorruptFilesGiveAClearMessage(string extension)
    {
        var file = PathOf("junk" + extension);
        File.WriteAllBytes(file, [.. Enumerable.Range(0, 300).Select(i => (byte)(i * 37 % 251))]);
        var e = Assert.Throws<EquivarianceLabException>(() => CheckpointIO.Load(file, Card("cnn7", file, ("inChannels", 1))));
        Assert.Contains($"junk{extension} is not", e.Message);
        Assert.Contains("corrupt", e.Message);
    }

    [Fact]
    public void TruncatedDatFileIsCorrupt()
    {
        using var m = Trained("cnn7", ("inChannels", 1));
        var file = PathOf("cut.dat");
        CheckpointIO.Save(m, file);
        var bytes = File.ReadAllBytes(file);
        File.WriteAllBytes(file, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<EquivarianceLabException>(() => CheckpointIO.Load(file, Card("cnn7", file, ("inChannels", 1))));
        Assert.Contains("cut.dat is not a TorchSharp .dat weight file", e.Message);
    }

    [Fact]
    public void DatFileWrittenByModuleSaveLoads()
    {
        // A .dat written by TorchSharp's own Module.save (not through CheckpointIO) reads the same.
        using var m = Trained("mixer-small", ("inChannels", 1));
        var file = PathOf("plain.dat");
        m.save(file);
        var sd = CheckpointIO.ReadStateDict(file);
        Assert.Equal(m.state_dict().Count, sd.Count);
        foreach (var t in sd.Values) t.Dispose();
    }

    [Fact]
    public void CardWithoutArchitectureOrUnknownExtensionIsAClearError()
    {
        var card = Card("cnn7", "x.dat") with { Architecture = null };
        var e = Assert.Throws<EquivarianceLabException>(() => CheckpointIO.Load(PathOf("x.dat"), card));
        Assert.Contains("names no architecture", e.Message);
        e = Assert.Throws<EquivarianceLabException>(() => CheckpointIO.FormatOf("model.h5"));
        Assert.Contains(".safetensors", e.Message);
        e = Assert.Throws<EquivarianceLabException>(() => CheckpointIO.Load(PathOf("absent.pt"), Card("cnn7", "absent.pt")));
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void CardRecordsFormat()
    {
        Assert.Equal("torchsharp", CheckpointIO.CardFormat("m.dat"));
        Assert.Equal("pytorch", CheckpointIO.CardFormat("m.pth"));
        Assert.Equal("pytorch", CheckpointIO.CardFormat("m.safetensors"));
        _ = JsonSerializer.Serialize(Card("cnn7", "m.dat"), ModelCard.JsonOptions);
    }
}
