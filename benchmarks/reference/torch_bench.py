#!/usr/bin/env python3
"""PyTorch / faiss reference numbers for dense-retrieval's benchmark suite.

Run by `npm run bench` when a python3 with torch (and optionally faiss) is found; never by the tests.
Inputs come from the JS runner so both sides measure exactly the same data:
  --workdir DIR holding  train_q.npy / train_p.npy (int32 [batch, seq] token ids of the training step;
                         random ids are drawn here when they are absent),
                         ids.npy (int32 [n, seq] token ids, 0-padded), lengths.npy (int32 [n]),
                         base.npy / queries.npy (float32 random vectors), exact_ids.npy (int32 [q, 10])
Prints one JSON object per line with the same fields as the JS side.

The BERT here is a plain PyTorch implementation (the `transformers` package is not available from Debian);
it performs the same FLOPs as Hugging Face's BertModel: post-LayerNorm blocks, erf GELU, additive mask.
Debian: apt-get install python3-torch python3-faiss libopenblas0-pthread
"""
import argparse
import json
import math
import os
import re
import sys
import time

import numpy as np


def load_torch():
    import torch  # noqa: WPS433 (optional import)

    return torch


def build_bert(torch, vocab, hidden, layers, heads, inter, max_pos=512):
    nn = torch.nn
    F = torch.nn.functional

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.q = nn.Linear(hidden, hidden)
            self.k = nn.Linear(hidden, hidden)
            self.v = nn.Linear(hidden, hidden)
            self.o = nn.Linear(hidden, hidden)
            self.ln1 = nn.LayerNorm(hidden, eps=1e-12)
            self.i = nn.Linear(hidden, inter)
            self.out = nn.Linear(inter, hidden)
            self.ln2 = nn.LayerNorm(hidden, eps=1e-12)
            self.drop = nn.Dropout(0.1)

        def forward(self, x, mask_add):
            b, s, _ = x.shape
            dh = hidden // heads

            def split(t):
                return t.view(b, s, heads, dh).transpose(1, 2)

            q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
            att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(dh) + mask_add
            att = self.drop(torch.softmax(att, dim=-1))
            ctx = torch.matmul(att, v).transpose(1, 2).reshape(b, s, hidden)
            x = self.ln1(x + self.drop(self.o(ctx)))
            h = F.gelu(self.i(x))
            return self.ln2(x + self.drop(self.out(h)))

    class Bert(nn.Module):
        def __init__(self):
            super().__init__()
            self.word = nn.Embedding(vocab, hidden)
            self.pos = nn.Embedding(max_pos, hidden)
            self.typ = nn.Embedding(2, hidden)
            self.ln = nn.LayerNorm(hidden, eps=1e-12)
            self.drop = nn.Dropout(0.1)
            self.layers = nn.ModuleList([Layer() for _ in range(layers)])

        def forward(self, ids, mask):
            s = ids.shape[1]
            pos = torch.arange(s).unsqueeze(0)
            x = self.drop(self.ln(self.word(ids) + self.pos(pos) + self.typ(torch.zeros_like(ids))))
            mask_add = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
            for layer in self.layers:
                x = layer(x, mask_add)
            m = mask.unsqueeze(-1).float()
            return (x * m).sum(1) / m.sum(1).clamp(min=1e-9)

    return Bert()


def shape_config(args, seq_len, batch):
    return {
        "layers": args.layers,
        "hidden": args.hidden,
        "heads": args.heads,
        "intermediate": args.intermediate,
        "seqLen": seq_len,
        "batchSize": batch,
        "vocab": args.vocab,
    }


def bench_train(torch, args):
    torch.manual_seed(0)
    model = build_bert(torch, args.vocab, args.hidden, args.layers, args.heads, args.intermediate)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
    b, s = args.train_batch, args.train_seq
    q_file = os.path.join(args.workdir, "train_q.npy")
    if os.path.exists(q_file):
        # The very ids the JS side trains on.
        q = torch.from_numpy(np.load(q_file).astype(np.int64))
        p = torch.from_numpy(np.load(os.path.join(args.workdir, "train_p.npy")).astype(np.int64))
        assert tuple(q.shape) == (b, s) and tuple(p.shape) == (b, s), f"train ids {tuple(q.shape)} != {(b, s)}"
    else:
        g = torch.Generator().manual_seed(1)
        q = torch.randint(1000, args.vocab, (b, s), generator=g)
        p = torch.randint(1000, args.vocab, (b, s), generator=g)
    mask = torch.ones(b, s, dtype=torch.long)

    def step():
        opt.zero_grad()
        qe = model(q, mask)
        pe = model(p, mask)
        logits = qe @ pe.T
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(b))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return float(loss)

    for _ in range(args.warmup):
        step()
    t = time.perf_counter()
    for _ in range(args.steps):
        step()
    dt = (time.perf_counter() - t) / args.steps
    return {"name": "train-step", "backend": "pytorch", **shape_config(args, s, b), "secondsPerStep": dt, "pairsPerSec": b / dt}


def bench_encode(torch, args):
    ids = np.load(os.path.join(args.workdir, "ids.npy"))
    lengths = np.load(os.path.join(args.workdir, "lengths.npy"))
    torch.manual_seed(0)
    model = build_bert(torch, args.vocab, args.hidden, args.layers, args.heads, args.intermediate)
    model.eval()
    order = np.argsort(-lengths, kind="stable")
    bs = args.encode_batch
    t = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(order), bs):
            rows = order[start : start + bs]
            width = int(lengths[rows].max())
            batch = torch.from_numpy(ids[rows, :width].astype(np.int64))
            mask = (torch.arange(width)[None, :] < torch.from_numpy(lengths[rows].astype(np.int64))[:, None]).long()
            model(batch, mask)
    dt = time.perf_counter() - t
    n = len(order)
    return {"name": "encode", "backend": "pytorch", **shape_config(args, ids.shape[1], bs), "texts": n, "seconds": dt, "textsPerSec": n / dt}


def bench_faiss(args):
    try:
        import faiss  # noqa: WPS433
    except ImportError:
        return []
    base = np.load(os.path.join(args.workdir, "base.npy")).astype(np.float32)
    queries = np.load(os.path.join(args.workdir, "queries.npy")).astype(np.float32)
    exact = np.load(os.path.join(args.workdir, "exact_ids.npy"))
    out = []
    d = base.shape[1]
    if args.threads:
        faiss.omp_set_num_threads(args.threads)
    flat = faiss.IndexFlatIP(d)
    flat.add(base)
    t = time.perf_counter()
    flat.search(queries, 10)
    dt = time.perf_counter() - t
    common = {"vectors": int(base.shape[0]), "dim": d, "queries": int(queries.shape[0]), "k": 10, "threads": faiss.omp_get_max_threads()}
    out.append({"name": "index-exact", "backend": "faiss-IndexFlatIP", **common, "qps": len(queries) / dt, "recallAt10": 1.0})
    hnsw = faiss.IndexHNSWFlat(d, args.M, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = args.ef_construction
    t = time.perf_counter()
    hnsw.add(base)
    build = time.perf_counter() - t
    for ef in args.ef:
        hnsw.hnsw.efSearch = ef
        t = time.perf_counter()
        _, ids = hnsw.search(queries, 10)
        dt = time.perf_counter() - t
        recall = float(np.mean([len(set(ids[i]) & set(exact[i])) / 10 for i in range(len(queries))]))
        out.append({"name": "index-hnsw", "backend": "faiss-IndexHNSWFlat", **common, "M": args.M, "efConstruction": args.ef_construction, "ef": ef, "buildSeconds": build, "qps": len(queries) / dt, "recallAt10": recall})
    return out


def blas_report(torch):
    """The BLAS that runs here and, for OpenBLAS, the core (kernel set) it picked."""
    try:
        from threadpoolctl import threadpool_info  # noqa: WPS433

        for info in threadpool_info():
            if info.get("internal_api") == "openblas":
                return f"OpenBLAS {info.get('version')} core {info.get('architecture')} ({info.get('filepath')})"
    except ImportError:
        pass
    import ctypes
    import ctypes.util

    for name in ("openblas", "blas"):
        found = ctypes.util.find_library(name)
        if found is None:
            continue
        try:
            lib = ctypes.CDLL(found)
            corename = lib.openblas_get_corename
            corename.restype = ctypes.c_char_p
            return f"OpenBLAS core {corename().decode()} ({found})"
        except (OSError, AttributeError):
            real = os.path.realpath(os.path.join("/usr/lib/x86_64-linux-gnu", found))
            blas_info = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
            return f"not OpenBLAS: {found} -> {real}; torch BLAS_INFO={blas_info.group(1) if blas_info else '?'}"
    return "no BLAS library found"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--cases", default="train,encode,index")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--hidden", type=int, default=384)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--intermediate", type=int, default=1536)
    ap.add_argument("--vocab", type=int, default=30522)
    ap.add_argument("--train-batch", type=int, default=32)
    ap.add_argument("--train-seq", type=int, default=128)
    ap.add_argument("--encode-batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=200)
    ap.add_argument("--ef", type=lambda s: [int(x) for x in s.split(",")], default=[10, 20, 40, 80, 160, 320, 640, 1280])
    # Debian's torch and faiss start with 1 OpenMP thread while OpenBLAS (pthreads) already runs matmuls and
    # flat search on every core; adding OpenMP threads oversubscribed the cores (9x slower on a loaded
    # 2-core machine), so the JS runner keeps the default unless asked (--ref-threads).
    ap.add_argument("--threads", type=int, default=0, help="torch and faiss threads (0 = library default)")
    args = ap.parse_args()
    cases = set(args.cases.split(","))
    results = []
    if cases & {"train", "encode"}:
        torch = load_torch()
        env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
        print(f"reference BLAS: {blas_report(torch)}; env {env}", file=sys.stderr, flush=True)
        if args.threads:
            torch.set_num_threads(args.threads)
        if "train" in cases:
            results.append(bench_train(torch, args))
        if "encode" in cases:
            results.append(bench_encode(torch, args))
    if "index" in cases:
        results.extend(bench_faiss(args))
    for r in results:
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    sys.exit(main())
