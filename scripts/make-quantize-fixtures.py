#!/usr/bin/env python3
"""Reference codes for test/index/quantize.test.ts (run by hand: python3 scripts/make-quantize-fixtures.py).

Independent of the TypeScript code: numpy implements sentence-transformers' `quantize_embeddings`
formulas (sentence_transformers/quantization.py) on float32 arrays:
  ranges = vstack(min(calibration, axis=0), max(calibration, axis=0)); steps = (max - min) / 255
  uint8 = ((x - starts) / steps).astype(uint8); int8 = ((x - starts) / steps - 128).astype(int8)
  ubinary = packbits(x > 0) (rows of a multiple of 8 dims); binary = (ubinary - 128).astype(int8)
Embeddings stay inside the calibration ranges (numpy's cast of an out-of-range float is undefined).
"""
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'index')
rng = np.random.default_rng(20261129)

n_cal, n, d = 50, 20, 24
calibration = rng.standard_normal((n_cal, d)).astype(np.float32)
lo = calibration.min(axis=0)
hi = calibration.max(axis=0)
emb = rng.uniform(-1.2, 1.2, size=(n, d)).astype(np.float32)
emb = np.clip(emb, lo, hi).astype(np.float32)
emb[0] = lo  # bucket 0 exactly
emb[1] = hi  # the top of the range (t = 255 up to rounding)
emb[2, :5] = 0.0  # zeros: not > 0 for the sign bit
ranges = np.vstack((np.min(calibration, axis=0), np.max(calibration, axis=0)))
starts = ranges[0, :]
steps = (ranges[1, :] - ranges[0, :]) / 255
uint8 = ((emb - starts) / steps).astype(np.uint8)
int8 = ((emb - starts) / steps - 128).astype(np.int8)
ubinary = np.packbits(emb > 0).reshape(emb.shape[0], -1)
binary = (np.packbits(emb > 0).reshape(emb.shape[0], -1) - 128).astype(np.int8)
# Self-calibrated (no ranges, no calibration): ranges from the embeddings themselves.
self_ranges = np.vstack((np.min(emb, axis=0), np.max(emb, axis=0)))
self_steps = (self_ranges[1, :] - self_ranges[0, :]) / 255
int8_self = ((emb - self_ranges[0, :]) / self_steps - 128).astype(np.int8)
# 20 dimensions: np.packbits per row (axis=-1) pads each row with zero bits.
padded = np.packbits(emb[:, :20] > 0, axis=-1)

np.save(os.path.join(OUT, 'quantize-calibration.npy'), calibration)
np.save(os.path.join(OUT, 'quantize-embeddings.npy'), emb)
with open(os.path.join(OUT, 'quantize-codes.json'), 'w') as f:
    json.dump(
        {
            'steps': [float(s) for s in steps],
            'uint8': uint8.astype(int).ravel().tolist(),
            'int8': int8.astype(int).ravel().tolist(),
            'int8Self': int8_self.astype(int).ravel().tolist(),
            'ubinary': ubinary.astype(int).ravel().tolist(),
            'binary': binary.astype(int).ravel().tolist(),
            'ubinary20': padded.astype(int).ravel().tolist(),
        },
        f,
    )
    f.write('\n')

# --- float16 and code .npy files -----------------------------------------------------------------------
# Values that exercise rounding: ties to even, subnormals, overflow to inf, signed zero, plus randoms.
special = np.array(
    [0.0, -0.0, 1.0, 1.0 + 2**-11, 1.0 + 3 * 2**-11, 65504.0, 65520.0, 1e6, -1e6, 2**-24, 2**-25,
     3 * 2**-26, 6e-8, 1e-5, -1e-5, 0.1, -0.3333, 2**-14, 2**-14 - 2**-25],
    dtype=np.float32,
)
src = np.concatenate([special, rng.standard_normal(29).astype(np.float32) * 3]).reshape(6, 8)
np.save(os.path.join(OUT, 'f16-source.npy'), src)  # float32 input of writeNpy(..., float16)
np.save(os.path.join(OUT, 'f16.npy'), src.astype(np.float16))  # numpy's float16 bytes
np.save(os.path.join(OUT, 'i1.npy'), int8[:4])
np.save(os.path.join(OUT, 'u1.npy'), ubinary[:4])
