#!/usr/bin/env python3
"""test/fixtures/index/scifact-untrained-1200x64.f16.npy: 1,200 SciFact corpus embeddings of an untrained
2-layer BERT (hidden 64, mean pooling, seed 1), the data on which the norm-spread rule chose the worse HNSW
graph space for `ip` (test/index/hnsw.test.ts). Make the embeddings first with
  node --import tsx scripts/measure-index-tradeoff.ts /work/shared/data/scifact OUT 0
then: python3 scripts/make-scifact-space-fixture.py OUT/untrained-corpus.npy
"""
import sys

import numpy as np

x = np.load(sys.argv[1])
rng = np.random.default_rng(0)
idx = np.sort(rng.choice(len(x), 1200, replace=False))
np.save("test/fixtures/index/scifact-untrained-1200x64.f16.npy", x[idx].astype(np.float16))
