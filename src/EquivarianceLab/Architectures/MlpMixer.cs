using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquivarianceLab.Architectures;

/// <summary>
/// A small MLP-Mixer (Tolstikhin et al., 2021): a patch embedding, blocks of token mixing (an MLP across the tokens of
/// each channel) and channel mixing (an MLP across the channels of each token), each pre-norm with a residual, a final
/// layer norm, global average pooling over tokens and a linear head. Parameter names follow timm (<c>stem.proj</c>,
/// <c>blocks.i.mlp_tokens.fc1</c>, <c>blocks.i.mlp_channels.fc1</c>, <c>norm</c>, <c>head</c>).
/// Hook points: the tokens after each block <c>blocks.{i}</c> as [N, (H/patch)², D], <c>pool</c> (the token average
/// after the final norm), <c>logits</c>.
/// </summary>
public sealed class MlpMixer : HookedModule
{
    private readonly PatchEmbed stem;
    private readonly ModuleList<MixerBlock> blocks = nn.ModuleList<MixerBlock>();
    private readonly LayerNorm norm;
    private readonly Linear head;
    private readonly string[] _hooks;
    private readonly long[] _inputShape;

    public MlpMixer(int inChannels = 3, int classes = 10, int imageSize = 28, int patchSize = 4, int dim = 64, int depth = 6, int tokenDim = 64, int channelDim = 128)
        : base("MlpMixer")
    {
        if (imageSize % patchSize != 0)
            throw new EquivarianceLabException($"mixer-small: imageSize {imageSize} is not a multiple of patchSize {patchSize}.");
        int tokens = (imageSize / patchSize) * (imageSize / patchSize);
        stem = new PatchEmbed(inChannels, dim, patchSize);
        for (int i = 0; i < depth; i++) blocks.Add(new MixerBlock(tokens, dim, tokenDim, channelDim));
        norm = nn.LayerNorm(dim);
        head = nn.Linear(dim, classes);
        RegisterComponents();
        TransformerInit.Apply(this, []);
        _hooks = [.. Enumerable.Range(0, depth).Select(i => $"blocks.{i}"), PoolHook, LogitsHook];
        _inputShape = [inChannels, imageSize, imageSize];
    }

    public override IReadOnlyList<string> HookPoints => _hooks;
    public override IReadOnlyList<long> InputShape => _inputShape;

    protected override Tensor Run(Tensor input, HookRecorder? hooks)
    {
        TransformerInit.CheckInput(input, _inputShape, "mixer-small");
        var x = stem.call(input);
        for (int i = 0; i < blocks.Count; i++)
        {
            x = blocks[i].call(x);
            hooks?.Record(_hooks[i], x);
        }
        var pooled = norm.call(x).mean([1]);
        hooks?.Record(PoolHook, pooled);
        var logits = head.call(pooled);
        hooks?.Record(LogitsHook, logits);
        return logits;
    }

    private sealed class MixerBlock : nn.Module<Tensor, Tensor>
    {
        private readonly LayerNorm norm1;
        private readonly Mlp mlp_tokens;
        private readonly LayerNorm norm2;
        private readonly Mlp mlp_channels;

        public MixerBlock(int tokens, int dim, int tokenDim, int channelDim) : base("MixerBlock")
        {
            norm1 = nn.LayerNorm(dim);
            mlp_tokens = new Mlp(tokens, tokenDim);
            norm2 = nn.LayerNorm(dim);
            mlp_channels = new Mlp(dim, channelDim);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            x = x.Plus(mlp_tokens.call(norm1.call(x).transpose(1, 2)).transpose(1, 2));
            return x.Plus(mlp_channels.call(norm2.call(x)));
        }
    }
}
