"""Reference fixtures for the training primitives (losses, AdamW, clipping, schedulers), made with PyTorch.

Run by hand (tests never need Python):  /usr/bin/python3 scripts/make_training_fixtures.py
Writes test/fixtures/training/{in_batch_loss,adamw,schedulers}.json. Uses torch only (1.13 here), float64
for the reference maths so the fixture is the truth and float32 tfjs is compared with a tolerance.
"""
import json
import math
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'training')
os.makedirs(OUT, exist_ok=True)
g = torch.Generator().manual_seed(1234)


def rand(*shape):
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def tolist(t):
    return t.detach().cpu().tolist()


# ---------------------------------------------------------------- in-batch negatives loss
def reference_loss(q, p, scale, similarity, symmetric, pids):
    """Sentence-transformers MultipleNegativesRankingLoss (and its symmetric variant), written out."""
    b = q.shape[0]
    if similarity == 'cosine':
        qn, pn = F.normalize(q, dim=-1), F.normalize(p, dim=-1)
    else:
        qn, pn = q, p
    logits = scale * qn @ pn.T  # [B, N]
    if pids is not None:
        mask = torch.zeros_like(logits, dtype=torch.bool)
        for i in range(b):
            for c in range(p.shape[0]):
                if c != i and pids[c] == pids[i]:
                    mask[i, c] = True
        logits = logits.masked_fill(mask, float('-inf'))
    target = torch.arange(b)
    loss = F.cross_entropy(logits, target)
    if symmetric:
        back = (scale * qn @ pn[:b].T).T  # [B positives, B queries]
        if pids is not None:
            bmask = torch.zeros_like(back, dtype=torch.bool)
            for j in range(b):
                for i in range(b):
                    if i != j and pids[i] == pids[j]:
                        bmask[j, i] = True
            back = back.masked_fill(bmask, float('-inf'))
        loss = (loss + F.cross_entropy(back, target)) / 2
    return loss


cases = []
for name, b, k, d, scale, sim, sym, pids in [
    ('dot_b4_k0', 4, 0, 8, 1.0, 'dot', False, None),
    ('cos_b3_k2_scale20', 3, 2, 6, 20.0, 'cosine', False, None),
    ('dot_b4_k1_symmetric', 4, 1, 5, 1.0, 'dot', True, None),
    ('cos_b1_k3', 1, 3, 4, 20.0, 'cosine', False, None),
    # passage 'x' is the positive of query 0 and reappears as query 2's hard negative
    # (column B + 2k = 6), and 'y' is the positive of queries 1 and 3: both must be masked, not punished.
    ('dup_cos_b4_k1_symmetric', 4, 1, 6, 20.0, 'cosine', True, ['x', 'y', 'z', 'y', 'n0', 'n1', 'x', 'n3']),
]:
    q = rand(b, d).requires_grad_(True)
    p = rand(b * (1 + k), d).requires_grad_(True)
    loss = reference_loss(q, p, scale, sim, sym, pids)
    loss.backward()
    cases.append({
        'name': name, 'batch': b, 'hardNegatives': k, 'scale': scale, 'similarity': sim, 'symmetric': sym,
        'passageIds': pids, 'q': tolist(q), 'p': tolist(p), 'loss': loss.item(),
        'gradQ': tolist(q.grad), 'gradP': tolist(p.grad),
    })
with open(os.path.join(OUT, 'in_batch_loss.json'), 'w') as f:
    json.dump({'torch': torch.__version__, 'cases': cases}, f)

# ---------------------------------------------------------------- AdamW + clip_grad_norm_
params = {
    'encoder.layer.0.dense.weight': rand(3, 4),
    'encoder.layer.0.dense.bias': rand(4),
    'encoder.layer.0.LayerNorm.weight': rand(4),
}
tparams = {n: v.clone().requires_grad_(True) for n, v in params.items()}
decay = [tparams['encoder.layer.0.dense.weight']]
no_decay = [tparams['encoder.layer.0.dense.bias'], tparams['encoder.layer.0.LayerNorm.weight']]
lr0, wd, betas, eps, max_norm = 0.1, 0.1, (0.9, 0.999), 1e-8, 1.0
opt = torch.optim.AdamW([
    {'params': decay, 'weight_decay': wd},
    {'params': no_decay, 'weight_decay': 0.0},
], lr=lr0, betas=betas, eps=eps)
lrs = [0.1, 0.05, 0.1, 0.02, 0.08]
steps = []
for t, lr in enumerate(lrs):
    grads = {n: rand(*v.shape) * (3.0 if t % 2 == 0 else 0.2) for n, v in params.items()}
    for n, p in tparams.items():
        p.grad = grads[n].clone()
    norm = torch.nn.utils.clip_grad_norm_(list(tparams.values()), max_norm)
    for group in opt.param_groups:
        group['lr'] = lr
    opt.step()
    steps.append({
        'lr': lr, 'grads': {n: tolist(v) for n, v in grads.items()}, 'preClipNorm': norm.item(),
        'clippedGrads': {n: tolist(p.grad) for n, p in tparams.items()},
        'params': {n: tolist(p) for n, p in tparams.items()},
    })
with open(os.path.join(OUT, 'adamw.json'), 'w') as f:
    json.dump({
        'torch': torch.__version__, 'weightDecay': wd, 'beta1': betas[0], 'beta2': betas[1], 'epsilon': eps,
        'maxNorm': max_norm, 'initial': {n: tolist(v) for n, v in params.items()}, 'steps': steps,
    }, f)

# ---------------------------------------------------------------- schedulers, by hand and via torch LambdaLR
def cosine_hand(step, max_lr, min_lr, warmup, total):
    if step < warmup:
        return max_lr * step / warmup
    prog = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_lr + (max_lr - min_lr) * 0.5 * (1.0 + math.cos(math.pi * prog))


def lambda_lr_values(max_lr, lam, n):
    """torch LambdaLR drives the same factor; its get_last_lr() at step s is what update s uses."""
    p = torch.nn.Parameter(torch.zeros(1))
    o = torch.optim.SGD([p], lr=max_lr)
    sched = torch.optim.lr_scheduler.LambdaLR(o, lam)
    out = []
    for _ in range(n):
        out.append(sched.get_last_lr()[0])
        o.step()
        sched.step()
    return out


max_lr, warmup, total = 2e-5, 100, 1000
hf_cosine = lambda s: (s / max(1, warmup)) if s < warmup else max(
    0.0, 0.5 * (1.0 + math.cos(math.pi * (s - warmup) / max(1, total - warmup))))
hf_linear = lambda s: (s / max(1, warmup)) if s < warmup else max(
    0.0, (total - s) / max(1, total - warmup))
probe = [0, 1, 50, 99, 100, 101, 325, 550, 775, 999, 1000]
torch_cos = lambda_lr_values(max_lr, hf_cosine, total + 1)
torch_lin = lambda_lr_values(max_lr, hf_linear, total + 1)
with open(os.path.join(OUT, 'schedulers.json'), 'w') as f:
    json.dump({
        'maxLr': max_lr, 'warmupSteps': warmup, 'totalSteps': total, 'steps': probe,
        'cosineTorchLambdaLR': [torch_cos[s] for s in probe],
        'linearTorchLambdaLR': [torch_lin[s] for s in probe],
        'cosineMinLr': {'minLr': 5e-6, 'values': [cosine_hand(s, max_lr, 5e-6, warmup, total) for s in probe]},
    }, f)
print('wrote', OUT)
