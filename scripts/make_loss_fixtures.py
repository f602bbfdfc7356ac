"""Reference fixtures for the losses of src/losses/ (Matryoshka, MarginMSE, DistillKLDiv, GISTEmbed), with PyTorch.

Run by hand (tests never need Python):  /usr/bin/python3 scripts/make_loss_fixtures.py
Writes test/fixtures/losses/losses.json. Each loss is written out here from sentence-transformers' source
(v5.2.0.dev0, commit 85ec645 of UKPLab/sentence-transformers: losses/MatryoshkaLoss.py, MarginMSELoss.py,
DistillKLDivLoss.py, GISTEmbedLoss.py, CachedGISTEmbedLoss.py), independently of our TypeScript, in float64.
For every case: fixed embeddings, the teacher scores / guide embeddings the loss needs, the loss value and
its gradients w.r.t. the query and passage embeddings (loss.backward()).

Layout (as the library's batches): q [B, d]; p [B(1 + k), d] = the B positives, then query 0's k negatives,
query 1's, ...; scores [B, 1 + k] (positive first).
"""
import json
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'losses')
os.makedirs(OUT, exist_ok=True)
g = torch.Generator().manual_seed(4321)


def rand(*shape):
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def tolist(t):
    return t.detach().cpu().tolist()


def split(p, b, k):
    """positives [B, d] and the negatives as sentence-transformers' columns: k tensors [B, d]."""
    pos = p[:b]
    if k == 0:
        return pos, []
    negs = p[b:].reshape(b, k, -1)
    return pos, [negs[:, j] for j in range(k)]


# ------------------------------------------------ MultipleNegativesRankingLoss (the inner loss of Matryoshka)
def mnrl(q, p, scale, similarity):
    """MultipleNegativesRankingLoss: cross-entropy of scale * sim(q, all passages), target the own positive."""
    if similarity == 'cosine':
        q, p = F.normalize(q, dim=-1), F.normalize(p, dim=-1)
    logits = scale * q @ p.T
    return F.cross_entropy(logits, torch.arange(q.shape[0]))


# ------------------------------------------------ MatryoshkaLoss
def shrink(t, dim, normalize):
    """MatryoshkaLoss.shrink: t[..., :dim], then F.normalize (sentence-transformers always normalises;
    normalize=False is the library's default for a dot-product inner loss, see src/losses/matryoshka.ts)."""
    t = t[..., :dim]
    return F.normalize(t, p=2, dim=-1) if normalize else t


def matryoshka(q, p, dims, weights, normalize, inner):
    loss = 0
    for dim, w in zip(dims, weights):
        loss = loss + w * inner(shrink(q, dim, normalize), shrink(p, dim, normalize))
    return loss


# ------------------------------------------------ MarginMSELoss
def pairwise(a, b, similarity):
    if similarity == 'cosine':  # util.pairwise_cos_sim
        a, b = F.normalize(a, p=2, dim=1), F.normalize(b, p=2, dim=1)
    return (a * b).sum(dim=-1)  # util.pairwise_dot_score


def margin_mse(q, p, labels, b, k, similarity):
    pos, negs = split(p, b, k)
    scores_pos = pairwise(q, pos, similarity)
    labels = labels[:, 0].unsqueeze(1) - labels[:, 1:]  # (positive, negatives) scores -> margins
    if k == 1:
        margin_pred = (scores_pos - pairwise(q, negs[0], similarity)).unsqueeze(1)
        return F.mse_loss(margin_pred, labels)
    margins = torch.stack([scores_pos - pairwise(q, n, similarity) for n in negs], dim=1)
    return F.mse_loss(margins, labels)


# ------------------------------------------------ DistillKLDivLoss
def distill_kl(q, p, labels, b, k, similarity, temperature):
    pos, negs = split(p, b, k)
    student = torch.stack([pairwise(q, o, similarity) for o in [pos, *negs]], dim=1) / temperature
    student_log_probs = torch.log_softmax(student, dim=1)
    teacher_probs = torch.softmax(labels / temperature, dim=1)
    loss = torch.nn.KLDivLoss(reduction='batchmean')(student_log_probs, teacher_probs)
    return loss * temperature**2


# ------------------------------------------------ GISTEmbedLoss (CachedGISTEmbedLoss's form: k negative columns)
def sim_matrix(a, b):
    return torch.nn.CosineSimilarity(dim=-1)(a.unsqueeze(1), b.unsqueeze(0))


def gist(q, p, gq, gp, b, k, margin, strategy, temperature, contrast_anchors, contrast_positives):
    pos, negs = split(p, b, k)
    gpos, gnegs = split(gp, b, k)
    ap = sim_matrix(q, pos)
    gap = sim_matrix(gq, gpos)
    guided = gap.diagonal().view(-1, 1)

    def mask_false_negatives(gmat, mat, positive_mask=None):
        if strategy == 'absolute':
            mask = gmat > (guided - margin)
        else:
            mask = gmat > (guided * (1 - margin))
        if positive_mask is not None:
            mask = mask & ~positive_mask
        mat = mat.clone()
        mat[mask] = -torch.inf
        return mat, int(mask.sum())

    masked = 0
    ap, m = mask_false_negatives(gap, ap, torch.eye(*gap.shape, dtype=torch.bool))
    masked += m
    scores = [ap]
    if contrast_anchors:
        aa, m = mask_false_negatives(sim_matrix(gq, gq), sim_matrix(q, q))
        masked += m
        scores.append(aa)
    if contrast_positives:
        pp, m = mask_false_negatives(sim_matrix(gpos, gpos), sim_matrix(pos, pos))
        masked += m
        scores.append(pp)
    for n, gn in zip(negs, gnegs):
        an, m = mask_false_negatives(sim_matrix(gq, gn), sim_matrix(q, n))
        masked += m
        scores.append(an)
    scores = torch.cat(scores, dim=1) / temperature
    return F.cross_entropy(scores, torch.arange(b)), masked


def run(case, fn):
    q = case['q'].clone().requires_grad_(True)
    p = case['p'].clone().requires_grad_(True)
    out = fn(q, p)
    extra = {}
    if isinstance(out, tuple):
        out, masked = out
        extra['masked'] = masked
    out.backward()
    rec = {k: (tolist(v) if torch.is_tensor(v) else v) for k, v in case.items()}
    rec.update(loss=out.item(), dq=tolist(q.grad), dp=tolist(p.grad), **extra)
    return rec


def embeddings(b, k, d):
    return {'q': rand(b, d), 'p': rand(b * (1 + k), d)}


def guide_embeddings(b, k, d):
    """Guide vectors where positives resemble their queries and one negative is a near-copy of another
    query's positive (a false negative the guide should mask)."""
    gq = rand(b, d)
    gpos = gq + 0.6 * rand(b, d)
    gneg = rand(b * k, d)
    if k > 0:
        gneg[0] = gpos[1] + 0.05 * rand(d)  # query 0's first negative looks like query 1's positive
    return gq, torch.cat([gpos, gneg])


cases = []

for name, dims, weights, sim, scale, normalize in [
    ('matryoshka_cosine', [8, 4, 2], [1.0, 0.5, 0.25], 'cosine', 20.0, False),
    ('matryoshka_dot', [8, 5, 3], [1.0, 1.0, 1.0], 'dot', 1.0, False),
    ('matryoshka_dot_normalized', [8, 4], [1.0, 2.0], 'dot', 1.0, True),
]:
    b, k, d = 4, 1, 8
    case = {'name': name, 'kind': 'matryoshka', 'b': b, 'k': k, 'dims': dims, 'weights': weights,
            'similarity': sim, 'scale': scale, 'normalize': normalize, **embeddings(b, k, d)}
    cases.append(run(case, lambda q, p, c=case: matryoshka(
        q, p, c['dims'], c['weights'], c['normalize'], lambda a, bb: mnrl(a, bb, c['scale'], c['similarity']))))

for name, b, k, sim in [('margin_mse_dot_k3', 3, 3, 'dot'), ('margin_mse_cosine_k1', 4, 1, 'cosine')]:
    d = 6
    case = {'name': name, 'kind': 'margin-mse', 'b': b, 'k': k, 'similarity': sim,
            'scores': 4 * rand(b, 1 + k), **embeddings(b, k, d)}
    cases.append(run(case, lambda q, p, c=case: margin_mse(q, p, c['scores'], c['b'], c['k'], c['similarity'])))

for name, b, k, sim, t in [
    ('distill_kl_dot_t1', 3, 3, 'dot', 1.0),
    ('distill_kl_cosine_t2', 4, 2, 'cosine', 2.0),
    ('distill_kl_dot_t05', 2, 1, 'dot', 0.5),
]:
    d = 6
    case = {'name': name, 'kind': 'distill-kl', 'b': b, 'k': k, 'similarity': sim, 'temperature': t,
            'scores': 3 * rand(b, 1 + k), **embeddings(b, k, d)}
    cases.append(run(case, lambda q, p, c=case: distill_kl(
        q, p, c['scores'], c['b'], c['k'], c['similarity'], c['temperature'])))

for name, b, k, margin, strategy, t, ca, cp in [
    ('gist_absolute_m0_t001_k1', 4, 1, 0.0, 'absolute', 0.01, True, True),
    ('gist_absolute_m01_t005_k0', 5, 0, 0.1, 'absolute', 0.05, True, True),
    ('gist_relative_m01_t005_k2', 4, 2, 0.1, 'relative', 0.05, True, True),
    ('gist_relative_m03_t002_k1_no_contrast', 4, 1, 0.3, 'relative', 0.02, False, False),
]:
    d = 6
    gq, gp = guide_embeddings(b, k, d)
    case = {'name': name, 'kind': 'gist', 'b': b, 'k': k, 'margin': margin, 'marginStrategy': strategy,
            'temperature': t, 'contrastAnchors': ca, 'contrastPositives': cp, 'gq': gq, 'gp': gp,
            **embeddings(b, k, d)}
    cases.append(run(case, lambda q, p, c=case: gist(
        q, p, c['gq'], c['gp'], c['b'], c['k'], c['margin'], c['marginStrategy'], c['temperature'],
        c['contrastAnchors'], c['contrastPositives'])))

for c in cases:
    print(f"{c['name']:42s} loss {c['loss']:.6f}" + (f"  masked {c['masked']}" if 'masked' in c else ''))

with open(os.path.join(OUT, 'losses.json'), 'w') as f:
    json.dump({'torch': torch.__version__, 'cases': cases}, f)
    f.write('\n')
