#!/usr/bin/env python3
"""faiss reference numbers for the `quantized` case of dense-retrieval's benchmark suite.

Run by `npm run bench` (never by the tests) on the vectors the JS side wrote to the work directory:
  - IndexBinaryFlat on np.packbits(x > 0) (sentence-transformers' "ubinary"), searched for
    k * multiplier candidates, then rescored as sentence-transformers' `rescore` does (float query x
    unpacked bits), top k kept. Queries are binarised inside the timed region, as on our side.
  - IndexScalarQuantizer QT_8bit (inner product, trained on the corpus): its search already scores the
    float query against the decoded codes, so it is one row (rescoring with the decoded codes would not
    change its ranking).
Recall@10 is against the exact float ids of our ExactIndex. Memory is ntotal x code_size.
Debian: apt-get install python3-faiss python3-numpy.
"""
import argparse
import json
import os
import time

import numpy as np


def recall_at(ids, exact, k):
    return float(np.mean([len(set(a[:k]) & set(b[:k])) / k for a, b in zip(ids.tolist(), exact.tolist())]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--binary-multipliers", default="1,4,10")
    args = ap.parse_args()
    import faiss  # noqa: WPS433

    if args.threads > 0:
        faiss.omp_set_num_threads(args.threads)
    base = np.load(os.path.join(args.workdir, "q_base.npy"))
    queries = np.load(os.path.join(args.workdir, "q_queries.npy"))
    exact = np.load(os.path.join(args.workdir, "q_exact_ids.npy"))
    n, d = base.shape
    nq, k = exact.shape
    common = {"vectors": int(n), "dim": int(d), "queries": int(nq), "k": int(k), "threads": faiss.omp_get_max_threads()}

    codes = np.packbits(base > 0, axis=-1)
    t0 = time.perf_counter()
    binary = faiss.IndexBinaryFlat(d)
    binary.add(codes)
    build = time.perf_counter() - t0
    binary.search(np.packbits(queries[:1] > 0, axis=-1), k)  # untimed warm-up, as on our side
    for m in [int(x) for x in args.binary_multipliers.split(",")]:
        t0 = time.perf_counter()
        _, cand = binary.search(np.packbits(queries > 0, axis=-1), k * m)
        bits = np.unpackbits(codes[cand], axis=-1)[:, :, :d].astype(np.float32)
        scores = np.einsum("ij,ikj->ik", queries, bits)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        ids = np.take_along_axis(cand, order, axis=1)
        dt = time.perf_counter() - t0
        print(json.dumps({"name": "index-binary", "backend": "faiss-IndexBinaryFlat", **common, "rescoreMultiplier": m,
                          "buildSeconds": build, "seconds": dt, "qps": nq / dt, "recallAt10": recall_at(ids, exact, k),
                          "memoryBytes": int(binary.ntotal * binary.code_size)}), flush=True)

    t0 = time.perf_counter()
    sq = faiss.IndexScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
    sq.train(base)
    sq.add(base)
    build = time.perf_counter() - t0
    sq.search(queries[:1], k)  # untimed warm-up
    t0 = time.perf_counter()
    _, ids = sq.search(queries, k)
    dt = time.perf_counter() - t0
    print(json.dumps({"name": "index-int8", "backend": "faiss-IndexScalarQuantizer-QT_8bit", **common,
                      "buildSeconds": build, "seconds": dt, "qps": nq / dt, "recallAt10": recall_at(ids, exact, k),
                      "memoryBytes": int(sq.ntotal * sq.code_size)}), flush=True)


if __name__ == "__main__":
    main()
