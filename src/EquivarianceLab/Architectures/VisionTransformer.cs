using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EquivarianceLab.Architectures;

/// <summary>
/// A small Vision Transformer (Dosovitskiy et al., 2021): a patch embedding (a patch×patch convolution with that
/// stride), a learned class token and position embedding, pre-norm encoder blocks (x + MHSA(LN(x)); x + MLP(LN(x))
/// with GELU), a final layer norm and a linear head on the class token. Parameter names follow timm
/// (<c>patch_embed.proj</c>, <c>cls_token</c>, <c>pos_embed</c>, <c>blocks.i.attn.qkv</c>, …, <c>norm</c>, <c>head</c>).
/// Hook points: the tokens after each block <c>blocks.{i}</c> as [N, 1 + (H/patch)², D] (class token first),
/// <c>pool</c> = the class token after the final norm, <c>logits</c>.
/// </summary>
public sealed class VisionTransformer : HookedModule
{
    private readonly PatchEmbed patch_embed;
    private readonly Parameter cls_token;
    private readonly Parameter pos_embed;
    private readonly ModuleList<EncoderBlock> blocks = nn.ModuleList<EncoderBlock>();
    private readonly LayerNorm norm;
    private readonly Linear head;
    private readonly string[] _hooks;
    private readonly long[] _inputShape;

    public VisionTransformer(int inChannels = 3, int classes = 10, int imageSize = 28, int patchSize = 4, int dim = 64, int depth = 6, int heads = 4, int mlpDim = 128)
        : base("VisionTransformer")
    {
        if (imageSize % patchSize != 0)
            throw new EquivarianceLabException($"vit-small: imageSize {imageSize} is not a multiple of patchSize {patchSize}.");
        if (dim % heads != 0)
            throw new EquivarianceLabException($"vit-small: dim {dim} is not a multiple of heads {heads}.");
        int grid = imageSize / patchSize;
        patch_embed = new PatchEmbed(inChannels, dim, patchSize);
        cls_token = new Parameter(torch.zeros(1, 1, dim));
        pos_embed = new Parameter(torch.zeros(1, grid * grid + 1, dim));
        for (int i = 0; i < depth; i++) blocks.Add(new EncoderBlock(dim, heads, mlpDim));
        norm = nn.LayerNorm(dim);
        head = nn.Linear(dim, classes);
        RegisterComponents();
        TransformerInit.Apply(this, [cls_token, pos_embed]);
        _hooks = [.. Enumerable.Range(0, depth).Select(i => $"blocks.{i}"), PoolHook, LogitsHook];
        _inputShape = [inChannels, imageSize, imageSize];
    }

    public override IReadOnlyList<string> HookPoints => _hooks;
    public override IReadOnlyList<long> InputShape => _inputShape;

    protected override Tensor Run(Tensor input, HookRecorder? hooks)
    {
        TransformerInit.CheckInput(input, _inputShape, "vit-small");
        var x = patch_embed.call(input);                                   // [N, T, D]
        var cls = cls_token.expand(x.shape[0], -1, -1);
        x = torch.cat([cls, x], 1).Plus(pos_embed);
        for (int i = 0; i < blocks.Count; i++)
        {
            x = blocks[i].call(x);
            hooks?.Record(_hooks[i], x);
        }
        var pooled = norm.call(x).select(1, 0);
        hooks?.Record(PoolHook, pooled);
        var logits = head.call(pooled);
        hooks?.Record(LogitsHook, logits);
        return logits;
    }

    private sealed class EncoderBlock : nn.Module<Tensor, Tensor>
    {
        private readonly LayerNorm norm1;
        private readonly Attention attn;
        private readonly LayerNorm norm2;
        private readonly Mlp mlp;

        public EncoderBlock(int dim, int heads, int mlpDim) : base("Block")
        {
            norm1 = nn.LayerNorm(dim);
            attn = new Attention(dim, heads);
            norm2 = nn.LayerNorm(dim);
            mlp = new Mlp(dim, mlpDim);
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            x = x.Plus(attn.call(norm1.call(x)));
            return x.Plus(mlp.call(norm2.call(x)));
        }
    }

    private sealed class Attention : nn.Module<Tensor, Tensor>
    {
        private readonly Linear qkv;
        private readonly Linear proj;
        private readonly int _heads;

        public Attention(int dim, int heads) : base("Attention")
        {
            qkv = nn.Linear(dim, 3 * dim);
            proj = nn.Linear(dim, dim);
            _heads = heads;
            RegisterComponents();
        }

        public override Tensor forward(Tensor x)
        {
            long n = x.shape[0], t = x.shape[1], d = x.shape[2];
            long hd = d / _heads;
            var parts = qkv.call(x).reshape(n, t, 3, _heads, hd).permute(2, 0, 3, 1, 4); // [3, N, H, T, d/H]
            var q = parts[0].Times(1.0 / Math.Sqrt(hd));
            var attention = torch.matmul(q, parts[1].transpose(-2, -1)).softmax(-1);       // [N, H, T, T]
            var o = torch.matmul(attention, parts[2]);                                      // [N, H, T, d/H]
            return proj.call(o.transpose(1, 2).reshape(n, t, d));
        }
    }
}

/// <summary>Patch embedding: a patch×patch convolution with stride patch, flattened to tokens [N, T, D] (row-major).</summary>
internal sealed class PatchEmbed : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d proj;

    public PatchEmbed(int inChannels, int dim, int patchSize) : base("PatchEmbed")
    {
        proj = nn.Conv2d(inChannels, dim, kernel_size: patchSize, stride: patchSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => proj.call(x).flatten(2).transpose(1, 2);
}

/// <summary>Two linear layers with GELU between (timm's <c>fc1</c>/<c>fc2</c>).</summary>
internal sealed class Mlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly Linear fc2;

    public Mlp(int dim, int hidden) : base("Mlp")
    {
        fc1 = nn.Linear(dim, hidden);
        fc2 = nn.Linear(hidden, dim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => fc2.call(nn.functional.gelu(fc1.call(x)));
}

public static class TransformerInit
{
    /// <summary>timm-style initialisation: truncated normal (std 0.02, cut at ±2) for linear weights and the given
    /// parameters, zero biases, unit layer norms.</summary>
    public static void Apply(nn.Module module, IEnumerable<Parameter> extra)
    {
        using var _ = torch.no_grad();
        foreach (var (_, m) in module.named_modules())
        {
            if (m is Linear linear)
            {
                TruncatedNormal(linear.weight, Std);
                if (linear.bias is not null) nn.init.zeros_(linear.bias);
            }
            else if (m is LayerNorm ln)
            {
                if (ln.weight is not null) nn.init.ones_(ln.weight);
                if (ln.bias is not null) nn.init.zeros_(ln.bias);
            }
        }
        foreach (var p in extra) TruncatedNormal(p, Std);
    }

    public const double Std = 0.02, Cut = 2.0;

    /// <summary>
    /// Fills <paramref name="t"/> with N(0, std²) cut to [−cut, cut]: values outside are drawn again until none is.
    /// </summary>
    /// <remarks>
    /// Not TorchSharp 0.107's <c>nn.init.trunc_normal_</c>: its native code multiplies by the mean and adds the standard
    /// deviation (the two swapped, and no √2), so with mean 0 it filled a tensor with the constant std — every ViT and
    /// Mixer linear weight, class token and position embedding began at 0.02 — and where the uniform draw hit ±1 its
    /// erfinv's ±∞ times 0 gave NaN: about one ViT in seventy-five was built with a NaN weight and failed its first step.
    /// </remarks>
    public static void TruncatedNormal(Tensor t, double std, double cut = Cut)
    {
        using var _ = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        t.normal_(0, std);
        // At ±100 std (timm's defaults for std 0.02) no value is ever outside; the loop keeps the cut exact in general.
        for (int round = 0; round < 1000; round++)
        {
            var outside = t.Clamped(-cut, cut).ne(t);
            if (!outside.any().item<bool>()) return;
            t.copy_(torch.where(outside, torch.empty_like(t).normal_(0, std), t));
        }
        throw new EquivarianceLabException($"A truncated normal of std {std} cut at ±{cut} kept drawing values outside the cut.");
    }

    public static void CheckInput(Tensor input, long[] shape, string name)
    {
        if (input.dim() != 4 || input.shape[1] != shape[0] || input.shape[2] != shape[1] || input.shape[3] != shape[2])
            throw new EquivarianceLabException(
                $"{name} expects input [N, {shape[0]}, {shape[1]}, {shape[2]}] (its imageSize is fixed by the position embedding); got [{string.Join(", ", input.shape)}].");
    }
}
