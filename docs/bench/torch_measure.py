#!/usr/bin/env python3
"""A plain PyTorch implementation of the measure, for timing `eqlab measure` against (README, "Performance"; docs/performance.md).

Rotation (90, 180, 270 degrees), Pearson similarity, torchvision's ResNet-18 at 64x64 measured at the stem (after the
max pool), layer1-4, the global pool and the logits, 128 images in batches of 32: per batch one forward pass of X and
one of each rotated batch, hooks read the layers out; for each spatial layer and rotation every channel of f(gX) is
compared with every channel of g.f(X) by one batched product of centred, unit-norm vectors (invariance: the diagonal;
equivariance: the row maximum over the non-degenerate partners); the vector layers are compared across the images at
the end. The weights are torchvision's random initialisation (the timing does not depend on them), so its scores are
not the ONNX graph's. FORWARD_ONLY=1 runs the forward passes and read-out alone.

    python3 docs/bench/torch_measure.py probe64.npy [threads]     # probe64.npy: see the README's bench commands
"""
import os, sys, time, numpy as np, torch, torchvision
FORWARD_ONLY = os.environ.get('FORWARD_ONLY') == '1'
t0 = time.perf_counter()
torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 2)
torch.manual_seed(0)
m = torchvision.models.resnet18(num_classes=1000).eval()
x_all = torch.from_numpy(np.load(sys.argv[1]).astype(np.float32))[:128]
names = ['stem', 'layer1', 'layer2', 'layer3', 'layer4', 'pool', 'logits']
mods = [m.maxpool, m.layer1, m.layer2, m.layer3, m.layer4, m.avgpool, m.fc]
feats = {}
for n, mod in zip(names, mods):
    mod.register_forward_hook(lambda _m, _i, o, n=n: feats.__setitem__(n, o.flatten(1) if o.dim() == 2 or o.shape[-1] == 1 else o))
def norm(v):  # centre and scale the last dim; degenerate -> NaN-free zero rows and a mask
    v = v - v.mean(-1, keepdim=True)
    nrm = v.norm(dim=-1, keepdim=True)
    ok = nrm.squeeze(-1) > 1e-6
    return v / nrm.clamp_min(1e-30), ok
sums = {n: [0.0, 0, 0.0, 0] for n in names}
vec = {n: {k: [] for k in range(4)} for n in names}
t1 = time.perf_counter()
with torch.inference_mode():
    for b in range(0, x_all.shape[0], 32):
        x = x_all[b:b + 32]
        m(x); base = dict(feats)
        for k in (1, 2, 3):
            m(torch.rot90(x, k, (2, 3))); out = dict(feats)
            for n in ([] if FORWARD_ONLY else names):
                a, f = out[n], base[n]
                if a.dim() == 4:
                    A, okA = norm(a.flatten(2))
                    B, okB = norm(torch.rot90(f, k, (2, 3)).flatten(2))
                    S = torch.bmm(A, B.transpose(1, 2))
                    S = S.masked_fill(~okB.unsqueeze(1), -2)
                    inv = S.diagonal(dim1=1, dim2=2); eqv = S.max(2).values
                    vi = okA & okB; ve = okA & okB.any(1, keepdim=True)
                    s = sums[n]; s[0] += inv[vi].sum().item(); s[1] += int(vi.sum()); s[2] += eqv[ve].sum().item(); s[3] += int(ve.sum())
                else:
                    vec[n][k].append(a); vec[n][0].append(f) if k == 1 else None
    res = {n: (0.0, 0.0) for n in names}
    for n in ([] if FORWARD_ONLY else names):
        if vec[n][0]:
            f = torch.cat(vec[n][0]).T
            B, okB = norm(f); iv = []; ev = []
            for k in (1, 2, 3):
                A, okA = norm(torch.cat(vec[n][k]).T)
                S = (A @ B.T).masked_fill(~okB.unsqueeze(0), -2)
                vi = okA & okB
                iv.append(S.diagonal()[vi].mean().item()); ev.append(S.max(1).values[okA].mean().item())
            res[n] = (np.mean(iv), np.mean(ev))
        else:
            s = sums[n]; res[n] = (s[0] / s[1], s[2] / s[3])
t2 = time.perf_counter()
for n in names: print(f'{n:8} inv {res[n][0]:.4f} eqv {res[n][1]:.4f}')
print(f'setup {t1 - t0:.2f} s, measure {t2 - t1:.2f} s, threads {torch.get_num_threads()}')
