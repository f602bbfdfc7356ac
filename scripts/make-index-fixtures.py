#!/usr/bin/env python3
"""Reference fixtures for test/index and test/data/npy (run by hand: python3 scripts/make-index-fixtures.py).

Independent of the TypeScript code: numpy writes the .npy files and computes float64 brute-force top-k
(ties: higher doc id first, as trec_eval), and a plain-Python Lucene BM25 (idf, k1/b, SmallFloat byte4
length quantisation, query-term boosts by count) scores a synthetic corpus whose words are two-character
tokens (w0..w29) that the English analyzer leaves unchanged, so only the scoring is under test here.
"""
import json
import math
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'index')
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20261127)

# --- vectors and exact top-k -------------------------------------------------------------------------
n, d, nq, k = 300, 16, 12, 10
docs = rng.standard_normal((n, d)).astype(np.float32)
docs[:50] *= rng.uniform(0.2, 3.0, size=(50, 1)).astype(np.float32)  # unnormalised norms
docs[7] = docs[3]  # exact duplicates: equal scores, so the id tie-break decides
docs[250] = docs[3]
queries = rng.standard_normal((nq, d)).astype(np.float32)
queries[0] = docs[3]  # a query equal to the tied documents
doc_ids = [f'doc{i:03d}' for i in range(n)]
np.save(os.path.join(OUT, 'docs.npy'), docs)
np.save(os.path.join(OUT, 'queries.npy'), queries)
with open(os.path.join(OUT, 'doc-ids.txt'), 'w') as f:
    f.write('\n'.join(doc_ids) + '\n')


def topk(scores):
    out = []
    for row in scores:
        order = sorted(range(n), key=lambda j: (-row[j], [-ord(c) for c in doc_ids[j]]))[:k]
        out.append({'ids': [doc_ids[j] for j in order], 'scores': [float(row[j]) for j in order]})
    return out


D = docs.astype(np.float64)
Q = queries.astype(np.float64)
expected = {'ip': topk(Q @ D.T)}
Dn = D / np.linalg.norm(D, axis=1, keepdims=True)
Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
expected['cosine'] = topk(Qn @ Dn.T)
expected['l2'] = topk(-((Q[:, None, :] - D[None, :, :]) ** 2).sum(-1))
expected['k'] = k
with open(os.path.join(OUT, 'exact-topk.json'), 'w') as f:
    json.dump(expected, f)

# --- npy variants -----------------------------------------------------------------------------------
small = np.arange(12, dtype=np.float64).reshape(3, 4) / 7.0
np.save(os.path.join(OUT, 'f64.npy'), small)
np.save(os.path.join(OUT, 'f32.npy'), small.astype(np.float32))
np.save(os.path.join(OUT, 'fortran.npy'), np.asfortranarray(small.astype(np.float32)))
np.save(os.path.join(OUT, 'int32.npy'), np.arange(6, dtype=np.int32).reshape(2, 3))
np.save(os.path.join(OUT, 'big-endian.npy'), small.astype('>f4'))
np.save(os.path.join(OUT, 'vec1d.npy'), np.array([1.5, -2.0, 3.25], dtype=np.float32))

# --- BM25 (Lucene BM25Similarity with SmallFloat byte4 norms) ------------------------------------------
def long_to_int4(i):
    num_bits = i.bit_length()
    if num_bits < 4:
        return i
    shift = num_bits - 4
    return ((i >> shift) & 0x07) | ((shift + 1) << 3)


def int4_to_long(i):
    bits, shift = i & 0x07, (i >> 3) - 1
    return bits if shift == -1 else (bits | 0x08) << shift


MAX_INT4 = long_to_int4(2**31 - 1)
FREE = 255 - MAX_INT4


def quantised_length(length):
    b = length if length < FREE else FREE + long_to_int4(length - FREE)
    return b if b < FREE else FREE + int4_to_long(b - FREE)


vocab = [f'w{i}' for i in range(30)]
zipf = np.array([1.0 / (r + 1) for r in range(30)])
zipf /= zipf.sum()
bm_docs = []
for i in range(60):
    length = int(rng.integers(1, 200))
    words = list(rng.choice(vocab, size=length, p=zipf))
    bm_docs.append({'id': f'b{i:02d}', 'title': '', 'text': ' '.join(words)})
bm_queries = ['w0 w5 w5 w17', 'w29', 'w3 w11 w12 w13', 'w1 w2 w3 w4 w5 w6', 'w28 w28 w0']
k1, b = 0.9, 0.4
N = len(bm_docs)
tokens = [doc['text'].split() for doc in bm_docs]
avgdl = sum(len(t) for t in tokens) / N
df = {w: sum(1 for t in tokens if w in t) for w in vocab}
bm_expected = []
for q in bm_queries:
    counts = {}
    for w in q.split():
        counts[w] = counts.get(w, 0) + 1
    scores = {}
    for j, t in enumerate(tokens):
        dl = quantised_length(len(t))
        s = 0.0
        for w, boost in counts.items():
            tf = t.count(w)
            if tf == 0:
                continue
            idf = math.log(1 + (N - df[w] + 0.5) / (df[w] + 0.5))
            s += boost * idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))
        if s > 0:
            scores[bm_docs[j]['id']] = s
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], [-ord(c) for c in kv[0]]))[:10]
    bm_expected.append({'query': q, 'ids': [r[0] for r in ranked], 'scores': [r[1] for r in ranked]})
with open(os.path.join(OUT, 'bm25.json'), 'w') as f:
    json.dump({'k1': k1, 'b': b, 'docs': bm_docs, 'results': bm_expected,
               'quantised': {str(L): quantised_length(L) for L in [0, 1, 23, 24, 25, 31, 32, 40, 100, 1000, 123456]}}, f)
print('wrote fixtures to', os.path.normpath(OUT))
