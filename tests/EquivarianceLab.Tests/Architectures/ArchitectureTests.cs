using System.Text.Json;
using EquivarianceLab.Architectures;
using EquivarianceLab.FeatureModels;
using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Architectures;

public class ArchitectureTests
{
    private static Dictionary<string, JsonElement> Options(params (string, int)[] o) => ArchitectureOptions.From(o);

    public static TheoryData<string, string[]> Spatial => new()
    {
        // architecture, expected hook points before pool/logits (shape checked separately)
        { "cnn7", ["layer1", "layer2", "layer3", "layer4", "layer5", "layer6", "layer7"] },
        { "resnet20", ["layer1.0", "layer1.1", "layer1.2", "layer2.0", "layer2.1", "layer2.2", "layer3.0", "layer3.1", "layer3.2"] },
        { "wrn16", ["block1.0", "block1.1", "block2.0", "block2.1", "block3.0", "block3.1"] },
        { "vit-small", ["blocks.0", "blocks.1", "blocks.2", "blocks.3", "blocks.4", "blocks.5"] },
        { "mixer-small", ["blocks.0", "blocks.1", "blocks.2", "blocks.3", "blocks.4", "blocks.5"] },
        { "resnet18", ["layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1"] },
    };

    [Theory]
    [MemberData(nameof(Spatial))]
    public void HookPointsAreTheBlocksThenPoolAndLogits(string architecture, string[] blocks)
    {
        using var m = ArchitectureRegistry.Create(architecture, Options(("inChannels", 1), ("classes", 5)));
        var hooked = Assert.IsAssignableFrom<IHookedModule>(m);
        Assert.Equal([.. blocks, "pool", "logits"], hooked.HookPoints);
        Assert.Equal("logits", hooked.LogitsHookPoint);
    }

    [Theory]
    [InlineData("cnn7", 20, 28, 14)]
    [InlineData("resnet20", 16, 28, 7)]
    [InlineData("resnet44", 16, 28, 7)]
    [InlineData("wrn16", 16, 28, 7)]
    [InlineData("wrn40", 16, 28, 7)]
    [InlineData("resnet18", 64, 7, 1)]
    [InlineData("resnet50", 256, 7, 1)]
    public void ConvolutionalShapes(string architecture, int firstChannels, int firstSize, int lastSize)
    {
        using var m = ArchitectureRegistry.Create(architecture, Options(("inChannels", 1), ("classes", 5)));
        var hooked = (IHookedModule)m;
        m.eval();
        using var _ = torch.no_grad();
        using var x = torch.randn(2, 1, 28, 28);
        var outputs = hooked.ForwardHooks(x, hooked.HookPoints);
        try
        {
            var first = outputs[0];
            Assert.Equal([2L, firstChannels, firstSize, firstSize], first.shape);
            var last = outputs[^3];
            Assert.Equal(4, last.dim());
            Assert.Equal(lastSize, last.shape[2]);
            Assert.Equal([2L, last.shape[1]], outputs[^2].shape);      // pool: [N, C] of the last block
            Assert.Equal([2L, 5], outputs[^1].shape);                   // logits
            using var logits = m.call(x);
            Assert.True(logits.allclose(outputs[^1]), "the logits hook is the forward output");
            if (!architecture.StartsWith("wrn", StringComparison.Ordinal)) // WRN pools after a final BN + ReLU
                Assert.True(outputs[^2].allclose(last.mean([2, 3]), rtol: 1e-4, atol: 1e-5), "pool is the global average of the last block");
        }
        finally
        {
            foreach (var t in outputs) t.Dispose();
        }
    }

    [Fact]
    public void Cnn7HasTheOptionWidthAndTwentyChannels()
    {
        using var m = ArchitectureRegistry.Create("cnn7", Options(("in-channels", 1), ("classes", 6), ("width", 2)));
        var hooked = (IHookedModule)m;
        using var x = torch.randn(3, 1, 28, 28);
        var outputs = hooked.ForwardHooks(x, ["layer2", "layer3", "pool", "logits"]);
        Assert.Equal([3L, 40, 28, 28], outputs[0].shape);
        Assert.Equal([3L, 40, 14, 14], outputs[1].shape); // max-pool after layer 2
        Assert.Equal([3L, 40], outputs[2].shape);
        Assert.Equal([3L, 6], outputs[3].shape);
        // Seven convolutions, no bias; BN; a linear classifier.
        var keys = m.state_dict().Keys.ToList();
        Assert.Equal(7, keys.Count(k => k.EndsWith("conv.weight", StringComparison.Ordinal)));
        Assert.Contains("fc.weight", keys);
    }

    [Theory]
    [InlineData("vit-small", 50, 64, true)]
    [InlineData("mixer-small", 49, 64, false)]
    public void TransformerTokenShapes(string architecture, int tokens, int dim, bool classToken)
    {
        using var m = ArchitectureRegistry.Create(architecture, Options(("inChannels", 1), ("classes", 4)));
        var hooked = (IHookedModule)m;
        m.eval();
        using var _ = torch.no_grad();
        using var x = torch.randn(2, 1, 28, 28);
        var outputs = hooked.ForwardHooks(x, hooked.HookPoints);
        foreach (var block in outputs.Take(outputs.Count - 2)) Assert.Equal([2L, tokens, dim], block.shape);
        Assert.Equal([2L, dim], outputs[^2].shape);
        Assert.Equal([2L, 4], outputs[^1].shape);
        // The class token comes first: T − 1 = 49 = 7² tokens form the grid; the Mixer has no prefix token.
        Assert.Equal(49, classToken ? tokens - 1 : tokens);
        Assert.Equal(classToken, m.state_dict().ContainsKey("cls_token"));
    }

    [Fact]
    public void ViTRejectsAnotherInputSize()
    {
        using var m = ArchitectureRegistry.Create("vit-small", Options(("inChannels", 1)));
        using var x = torch.randn(1, 1, 32, 32);
        var e = Assert.Throws<EquivarianceLabException>(() => m.call(x));
        Assert.Contains("[N, 1, 28, 28]", e.Message);
    }

    [Fact]
    public void ResNetDepthsAndOptions()
    {
        using var r44 = ArchitectureRegistry.Create("resnet", Options(("depth", 44)));
        Assert.Equal(21 + 2, ((IHookedModule)r44).HookPoints.Count);
        using var w40 = ArchitectureRegistry.Create("wrn", Options(("depth", 40), ("width", 2), ("base", 4)));
        Assert.Equal(18 + 2, ((IHookedModule)w40).HookPoints.Count);
        using var x = torch.randn(2, 3, 32, 32);
        var outs = ((IHookedModule)w40).ForwardHooks(x, ["block1.0", "block3.5"]);
        Assert.Equal([2L, 8, 32, 32], outs[0].shape);
        Assert.Equal([2L, 32, 8, 8], outs[1].shape);
        var e = Assert.Throws<EquivarianceLabException>(() => ArchitectureRegistry.Create("resnet", Options(("depth", 21))));
        Assert.Contains("6n+2", e.Message);
    }

    [Fact]
    public void TorchVisionResNetKeepsTorchvisionNames()
    {
        using var m = ArchitectureRegistry.Create("resnet18", null);
        var sd = m.state_dict();
        Assert.Equal([64L, 3, 7, 7], sd["conv1.weight"].shape);
        Assert.Contains("layer1.0.conv1.weight", sd.Keys);
        Assert.Contains("layer2.0.downsample.0.weight", sd.Keys);
        Assert.Contains("layer4.1.bn2.running_var", sd.Keys);
        Assert.Equal([1000L, 512], sd["fc.weight"].shape);
        using var grey = ArchitectureRegistry.Create("resnet18", Options(("inChannels", 1), ("classes", 10), ("cifarStem", 1)));
        Assert.Equal([64L, 1, 3, 3], grey.state_dict()["conv1.weight"].shape);
        Assert.Equal(sd.Count, grey.state_dict().Count);
    }

    [Fact]
    public void UnknownArchitectureListsTheKnownOnes()
    {
        var e = Assert.Throws<EquivarianceLabException>(() => ArchitectureRegistry.Create("vgg11", null));
        foreach (var name in ArchitectureRegistry.Names) Assert.Contains(name, e.Message);
        Assert.Contains("cnn7", ArchitectureRegistry.Names);
        Assert.Contains("resnet50", ArchitectureRegistry.Names);
    }

    [Fact]
    public void InfoSaysWhichArchitecturesHaveAWidth()
    {
        Assert.True(ArchitectureRegistry.Info("cnn7").HasWidth);
        Assert.True(ArchitectureRegistry.Info("WRN16").HasWidth);
        Assert.False(ArchitectureRegistry.Info("vit-small").HasWidth);
        Assert.False(ArchitectureRegistry.Info("resnet18").HasWidth);
        Assert.Equal("ViT", ArchitectureRegistry.Info("vit-small").Family);
        Assert.Equal(ArchitectureRegistry.Names.Count, ArchitectureRegistry.All.Count);
    }

    [Fact]
    public void UnknownOrBadOptionsAreClearErrors()
    {
        var e = Assert.Throws<EquivarianceLabException>(() => ArchitectureRegistry.Create("cnn7", Options(("depth", 3))));
        Assert.Contains("'depth'", e.Message);
        Assert.Contains("width", e.Message);
        var bad = new Dictionary<string, JsonElement> { ["width"] = JsonSerializer.SerializeToElement("wide") };
        e = Assert.Throws<EquivarianceLabException>(() => ArchitectureRegistry.Create("cnn7", bad));
        Assert.Contains("integer", e.Message);
        e = Assert.Throws<EquivarianceLabException>(() => ArchitectureRegistry.Create("cnn7", Options(("width", 0))));
        Assert.Contains("between", e.Message);
    }

    [Fact]
    public void UnknownHookPointIsAClearError()
    {
        using var m = ArchitectureRegistry.Create("cnn7", null);
        using var x = torch.randn(1, 1, 28, 28);
        var e = Assert.Throws<EquivarianceLabException>(() => ((IHookedModule)m).ForwardHooks(x, ["layer9"]));
        Assert.Contains("layer7", e.Message);
    }

    [Fact]
    public void HookTensorsOutliveACallersDisposeScope()
    {
        using var m = ArchitectureRegistry.Create("resnet20", Options(("inChannels", 1)));
        m.eval();
        IReadOnlyList<Tensor> outputs;
        using (var scope = torch.NewDisposeScope())
        {
            using var x = torch.randn(2, 1, 28, 28);
            outputs = ((IHookedModule)m).ForwardHooks(x, ["layer1.0", "logits", "layer1.0"]);
            scope.MoveToOuter(outputs);
        }
        Assert.Equal(3, outputs.Count);
        Assert.True(outputs[0].allclose(outputs[2], rtol: 0, atol: 0));
        Assert.Equal([2L, 10], outputs[1].shape);
        foreach (var t in outputs) t.Dispose();
    }
}
