using TorchSharp;
using static TorchSharp.torch;

namespace EquivarianceLab.Tests.Reference;

/// <summary>
/// Independent forward passes of the project's architectures, written from their published definitions (the class
/// doc comments and the papers they cite) with tensor ops and <c>torch.nn.functional</c> only. Weights are read by key
/// from a module's <c>state_dict()</c>; no submodule of the architecture is called, so a wrong wiring, order, stride,
/// shortcut or hook point in <c>src/EquivarianceLab/Architectures</c> shows up as a difference. Batch norm (eval form,
/// running statistics), layer norm, GELU, softmax attention and the patch embedding are written out by hand for the
/// same reason. Each pass returns its hook points in forward order, named as the modules name them.
/// </summary>
internal static class FunctionalReference
{
    private const double NormEps = 1e-5; // PyTorch's default for BatchNorm2d and LayerNorm

    /// <summary>The reference of a zoo architecture (a card's <c>architecture</c>); <paramref name="heads"/> is ViT's head count.</summary>
    public static List<(string Name, Tensor Value)> Forward(string architecture, IReadOnlyDictionary<string, Tensor> w, Tensor x, int heads = 4) =>
        architecture switch
        {
            "cnn7" => Cnn7(w, x),
            "resnet20" => CifarResNet(w, x),
            "wrn16" => WideResNet(w, x),
            "vit-small" => VisionTransformer(w, x, heads),
            "mixer-small" => MlpMixer(w, x),
            "resnet18" => TorchVisionResNet18(w, x),
            _ => throw new ArgumentException($"No functional reference for '{architecture}'.", nameof(architecture)),
        };

    /// <summary>Seven conv3×3(pad 1)–BN–ReLU layers, a 2×2 max-pool after layer 2 (hooked before it), GAP, linear.</summary>
    public static List<(string, Tensor)> Cnn7(IReadOnlyDictionary<string, Tensor> w, Tensor x)
    {
        var hooks = new List<(string, Tensor)>();
        for (int i = 0; i < 7; i++)
        {
            x = Relu(BatchNorm(w, $"layers.{i}.bn", Conv(w, $"layers.{i}.conv", x, stride: 1, padding: 1)));
            hooks.Add(($"layer{i + 1}", x));
            if (i == 1) x = MaxPool2x2(x);
        }
        return WithHead(hooks, x.mean([2, 3]), w, "fc");
    }

    /// <summary>
    /// He et al.'s CIFAR ResNet: conv–BN–ReLU stem, three stages of basic blocks (stride 2 at the first block of stages
    /// 2 and 3), option-A shortcuts (take every second pixel, zero channels added equally before and after), GAP, linear.
    /// </summary>
    public static List<(string, Tensor)> CifarResNet(IReadOnlyDictionary<string, Tensor> w, Tensor x)
    {
        var hooks = new List<(string, Tensor)>();
        x = Relu(BatchNorm(w, "bn1", Conv(w, "conv1", x, stride: 1, padding: 1)));
        for (int s = 1; s <= 3; s++)
        {
            for (int b = 0; w.ContainsKey($"layer{s}.{b}.conv1.weight"); b++)
            {
                var p = $"layer{s}.{b}";
                int stride = s > 1 && b == 0 ? 2 : 1;
                var y = Relu(BatchNorm(w, $"{p}.bn1", Conv(w, $"{p}.conv1", x, stride, padding: 1)));
                y = BatchNorm(w, $"{p}.bn2", Conv(w, $"{p}.conv2", y, stride: 1, padding: 1));
                var shortcut = stride == 1 ? x : Subsample2(x);
                long missing = y.shape[1] - shortcut.shape[1];
                if (missing > 0)
                {
                    long front = missing / 2, back = missing - front;
                    shortcut = torch.cat([ZeroChannels(shortcut, front), shortcut, ZeroChannels(shortcut, back)], 1);
                }
                x = Relu(y.Plus(shortcut));
                hooks.Add((p, x));
            }
        }
        return WithHead(hooks, x.mean([2, 3]), w, "fc");
    }

    /// <summary>
    /// Zagoruyko &amp; Komodakis's WRN: conv stem, three groups of pre-activation blocks (BN–ReLU–conv–BN–ReLU–conv;
    /// stride 2 at the first block of groups 2 and 3). Where the shape changes the shortcut is a 1×1 convolution of the
    /// block's activated input, else the raw input. Then BN–ReLU, GAP (the pool hook), linear.
    /// </summary>
    public static List<(string, Tensor)> WideResNet(IReadOnlyDictionary<string, Tensor> w, Tensor x)
    {
        var hooks = new List<(string, Tensor)>();
        x = Conv(w, "conv1", x, stride: 1, padding: 1);
        for (int g = 1; g <= 3; g++)
        {
            for (int b = 0; w.ContainsKey($"block{g}.{b}.conv1.weight"); b++)
            {
                var p = $"block{g}.{b}";
                int stride = g > 1 && b == 0 ? 2 : 1;
                var activated = Relu(BatchNorm(w, $"{p}.bn1", x));
                var y = Conv(w, $"{p}.conv1", activated, stride, padding: 1);
                y = Conv(w, $"{p}.conv2", Relu(BatchNorm(w, $"{p}.bn2", y)), stride: 1, padding: 1);
                bool shapeChanges = stride != 1 || w[$"{p}.conv1.weight"].shape[0] != x.shape[1];
                x = y.Plus(shapeChanges ? Conv(w, $"{p}.shortcut", activated, stride, padding: 0) : x);
                hooks.Add((p, x));
            }
        }
        return WithHead(hooks, Relu(BatchNorm(w, "bn1", x)).mean([2, 3]), w, "fc");
    }

    /// <summary>
    /// ViT: patch tokens (row-major) + a class token in front + position embedding; pre-norm blocks
    /// x + MHSA(LN(x)), x + MLP(LN(x)) with GELU; the pool hook is the class token after the final layer norm.
    /// </summary>
    public static List<(string, Tensor)> VisionTransformer(IReadOnlyDictionary<string, Tensor> w, Tensor x, int heads)
    {
        var hooks = new List<(string, Tensor)>();
        var tokens = PatchTokens(w, "patch_embed.proj", x);
        var cls = w["cls_token"].expand(tokens.shape[0], 1, tokens.shape[2]);
        x = torch.cat([cls, tokens], 1).Plus(w["pos_embed"]);
        for (int i = 0; w.ContainsKey($"blocks.{i}.norm1.weight"); i++)
        {
            var p = $"blocks.{i}";
            x = x.Plus(Linear(w, $"{p}.attn.proj", SelfAttention(Linear(w, $"{p}.attn.qkv", LayerNorm(w, $"{p}.norm1", x)), heads)));
            x = x.Plus(Linear(w, $"{p}.mlp.fc2", Gelu(Linear(w, $"{p}.mlp.fc1", LayerNorm(w, $"{p}.norm2", x)))));
            hooks.Add((p, x));
        }
        return WithHead(hooks, LayerNorm(w, "norm", x)[.., 0, ..], w, "head");
    }

    /// <summary>
    /// MLP-Mixer: patch tokens; blocks of token mixing (LN, then an MLP along the token axis of each channel) and
    /// channel mixing (LN, MLP along channels), each with a residual; final LN, mean over tokens (pool), linear head.
    /// </summary>
    public static List<(string, Tensor)> MlpMixer(IReadOnlyDictionary<string, Tensor> w, Tensor x)
    {
        var hooks = new List<(string, Tensor)>();
        x = PatchTokens(w, "stem.proj", x);
        for (int i = 0; w.ContainsKey($"blocks.{i}.norm1.weight"); i++)
        {
            var p = $"blocks.{i}";
            var acrossTokens = LayerNorm(w, $"{p}.norm1", x).transpose(1, 2); // [N, D, T]
            x = x.Plus(Linear(w, $"{p}.mlp_tokens.fc2", Gelu(Linear(w, $"{p}.mlp_tokens.fc1", acrossTokens))).transpose(1, 2));
            x = x.Plus(Linear(w, $"{p}.mlp_channels.fc2", Gelu(Linear(w, $"{p}.mlp_channels.fc1", LayerNorm(w, $"{p}.norm2", x)))));
            hooks.Add((p, x));
        }
        return WithHead(hooks, LayerNorm(w, "norm", x).mean([1]), w, "head");
    }

    /// <summary>
    /// TorchVision's ResNet-18: conv7×7/2 (pad 3)–BN–ReLU, max-pool 3×3/2 (pad 1), four stages of two basic blocks
    /// (stride 2 at the first block of stages 2–4, where the shortcut is conv1×1/2–BN), GAP, linear.
    /// </summary>
    public static List<(string, Tensor)> TorchVisionResNet18(IReadOnlyDictionary<string, Tensor> w, Tensor x)
    {
        var hooks = new List<(string, Tensor)>();
        x = Relu(BatchNorm(w, "bn1", Conv(w, "conv1", x, stride: 2, padding: 3)));
        x = nn.functional.max_pool2d(x, [3, 3], [2, 2], [1, 1]); // kernel, stride, padding
        for (int s = 1; s <= 4; s++)
        {
            for (int b = 0; b < 2; b++)
            {
                var p = $"layer{s}.{b}";
                int stride = s > 1 && b == 0 ? 2 : 1;
                var y = Relu(BatchNorm(w, $"{p}.bn1", Conv(w, $"{p}.conv1", x, stride, padding: 1)));
                y = BatchNorm(w, $"{p}.bn2", Conv(w, $"{p}.conv2", y, stride: 1, padding: 1));
                var shortcut = stride != 1 ? BatchNorm(w, $"{p}.downsample.1", Conv(w, $"{p}.downsample.0", x, stride, padding: 0)) : x;
                x = Relu(y.Plus(shortcut));
                hooks.Add((p, x));
            }
        }
        return WithHead(hooks, x.mean([2, 3]), w, "fc");
    }

    private static List<(string, Tensor)> WithHead(List<(string, Tensor)> hooks, Tensor pooled, IReadOnlyDictionary<string, Tensor> w, string head)
    {
        hooks.Add(("pool", pooled));
        hooks.Add(("logits", Linear(w, head, pooled)));
        return hooks;
    }

    /// <summary>
    /// A square convolution as im2col and a matrix product (not libtorch's convolution kernels, so the oneDNN fault of
    /// <see cref="NativeRuntime"/> or any other kernel fault cannot hide by appearing on both sides).
    /// </summary>
    private static Tensor Conv(IReadOnlyDictionary<string, Tensor> w, string key, Tensor x, long stride, long padding)
    {
        var weight = w[$"{key}.weight"];
        long n = x.shape[0], outChannels = weight.shape[0], k = weight.shape[2];
        long height = (x.shape[2] + 2 * padding - k) / stride + 1, width = (x.shape[3] + 2 * padding - k) / stride + 1;
        var columns = nn.functional.unfold(x, k, padding: padding, stride: stride);            // [N, C·k·k, H·W]
        var y = torch.matmul(weight.reshape(outChannels, -1), columns).reshape(n, outChannels, height, width);
        return w.TryGetValue($"{key}.bias", out var bias) ? y.Plus(bias.view(1, -1, 1, 1)) : y;
    }

    /// <summary>Eval-mode batch norm: (x − running mean) / √(running var + ε) · γ + β per channel.</summary>
    private static Tensor BatchNorm(IReadOnlyDictionary<string, Tensor> w, string key, Tensor x)
    {
        long[] perChannel = [1, -1, 1, 1];
        var scale = w[$"{key}.weight"] / w[$"{key}.running_var"].Plus(NormEps).sqrt();
        return ((x - w[$"{key}.running_mean"].view(perChannel)) * scale.view(perChannel)).Plus(w[$"{key}.bias"].view(perChannel));
    }

    /// <summary>Layer norm over the last axis with the biased variance, as nn.LayerNorm.</summary>
    private static Tensor LayerNorm(IReadOnlyDictionary<string, Tensor> w, string key, Tensor x)
    {
        var centred = x - x.mean([-1], keepdim: true);
        var variance = (centred * centred).mean([-1], keepdim: true);
        return (centred / variance.Plus(NormEps).sqrt() * w[$"{key}.weight"]).Plus(w[$"{key}.bias"]);
    }

    private static Tensor Linear(IReadOnlyDictionary<string, Tensor> w, string key, Tensor x) =>
        torch.matmul(x, w[$"{key}.weight"].t()).Plus(w[$"{key}.bias"]);

    private static Tensor Relu(Tensor x) => x.ClampedBelow(0);

    /// <summary>The exact (erf) GELU, PyTorch's and timm's default.</summary>
    private static Tensor Gelu(Tensor x) => x.Times(0.5) * torch.erf(x.Over(Math.Sqrt(2))).Plus(1.0);

    /// <summary>Non-overlapping 2×2 maximum, from a reshape rather than a pooling kernel.</summary>
    private static Tensor MaxPool2x2(Tensor x) =>
        x.reshape(x.shape[0], x.shape[1], x.shape[2] / 2, 2, x.shape[3] / 2, 2).amax([3, 5]);

    private static Tensor Subsample2(Tensor x) =>
        x.index_select(2, Scalars.Range(0, x.shape[2], 2)).index_select(3, Scalars.Range(0, x.shape[3], 2));

    private static Tensor ZeroChannels(Tensor like, long count) =>
        torch.zeros(like.shape[0], count, like.shape[2], like.shape[3], dtype: like.dtype);

    /// <summary>
    /// Patch embedding as a matrix product: cut the image into p×p patches in row-major order, flatten each as
    /// (channel, row, column) — the layout of a conv weight [D, C, p, p] — and apply the weight and bias.
    /// </summary>
    private static Tensor PatchTokens(IReadOnlyDictionary<string, Tensor> w, string key, Tensor x)
    {
        var weight = w[$"{key}.weight"];
        long n = x.shape[0], c = x.shape[1], p = weight.shape[2], gh = x.shape[2] / p, gw = x.shape[3] / p;
        var patches = x.reshape(n, c, gh, p, gw, p).permute(0, 2, 4, 1, 3, 5).reshape(n, gh * gw, c * p * p);
        return torch.matmul(patches, weight.reshape(weight.shape[0], -1).t()).Plus(w[$"{key}.bias"]);
    }

    /// <summary>
    /// Multi-head self-attention from the qkv projection [N, T, 3D] (timm's layout: q, k, v blocks of D, each split
    /// into heads of D/heads): softmax(q·kᵀ/√(D/heads))·v per head, heads concatenated back to [N, T, D].
    /// </summary>
    private static Tensor SelfAttention(Tensor qkv, int heads)
    {
        long n = qkv.shape[0], t = qkv.shape[1], d = qkv.shape[2] / 3, hd = d / heads;
        Tensor Heads(int part) => qkv.narrow(2, part * d, d).reshape(n, t, heads, hd).transpose(1, 2); // [N, H, T, hd]
        var scores = torch.matmul(Heads(0), Heads(1).transpose(2, 3)).Over(Math.Sqrt(hd));
        var e = (scores - scores.amax([-1], keepdim: true)).exp();
        var attention = e / e.sum([-1], keepdim: true);
        return torch.matmul(attention, Heads(2)).transpose(1, 2).reshape(n, t, d);
    }
}
