import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { readNpy } from '../../src/data/npy.js';
import { ArgumentError } from '../../src/errors.js';
import {
  calibrationRanges,
  packSignBits,
  quantizeEmbeddings,
  ScalarQuantizer,
} from '../../src/util/quantize.js';
import { FIXTURES, fixtureJson } from '../index/helpers.js';

interface Codes {
  steps: number[];
  uint8: number[];
  int8: number[];
  int8Self: number[];
  ubinary: number[];
  binary: number[];
  ubinary20: number[];
}

async function load(): Promise<{
  calibration: Awaited<ReturnType<typeof readNpy>>;
  emb: Awaited<ReturnType<typeof readNpy>>;
  codes: Codes;
}> {
  return {
    calibration: await readNpy(path.join(FIXTURES, 'quantize-calibration.npy')),
    emb: await readNpy(path.join(FIXTURES, 'quantize-embeddings.npy')),
    codes: fixtureJson<Codes>('quantize-codes.json'),
  };
}

test('int8 and uint8 codes equal sentence-transformers formulas (numpy fixture), truncation included', async () => {
  const { calibration, emb, codes } = await load();
  const int8 = quantizeEmbeddings(emb, 'int8', { calibration });
  assert.ok(int8.data instanceof Int8Array);
  assert.equal(int8.cols, emb.cols);
  assert.deepEqual(Array.from(int8.data), codes.int8);
  const uint8 = quantizeEmbeddings(emb, 'uint8', { calibration });
  assert.ok(uint8.data instanceof Uint8Array);
  assert.deepEqual(Array.from(uint8.data), codes.uint8);
  // Explicit ranges give the same codes as the calibration they came from.
  const ranges = calibrationRanges(calibration);
  assert.deepEqual(Array.from(quantizeEmbeddings(emb, 'int8', { ranges }).data), codes.int8);
  // float32 steps equal numpy's.
  assert.deepEqual(Array.from(new ScalarQuantizer(ranges).steps), codes.steps.map(Math.fround));
  // Without ranges or calibration the embeddings calibrate themselves.
  assert.deepEqual(Array.from(quantizeEmbeddings(emb, 'int8').data), codes.int8Self);
});

test('binary and ubinary codes equal np.packbits of the sign bits (MSB first)', async () => {
  const { emb, codes } = await load();
  const ub = quantizeEmbeddings(emb, 'ubinary');
  assert.equal(ub.cols, emb.cols / 8);
  assert.ok(ub.data instanceof Uint8Array);
  assert.deepEqual(Array.from(ub.data), codes.ubinary);
  const b = quantizeEmbeddings(emb, 'binary');
  assert.ok(b.data instanceof Int8Array);
  assert.deepEqual(Array.from(b.data), codes.binary);
  // 20 dimensions: each row padded to 3 bytes with zero bits, as np.packbits(axis=-1).
  const d20 = new Float32Array(emb.rows * 20);
  for (let r = 0; r < emb.rows; r++) d20.set(emb.data.subarray(r * emb.cols, r * emb.cols + 20), r * 20);
  const packed = packSignBits({ data: d20, rows: emb.rows, cols: 20 });
  assert.deepEqual(Array.from(packed), codes.ubinary20);
});

test('out-of-range values are clamped, constant dimensions map to the lowest code', () => {
  const ranges = { min: new Float32Array([-1, 0.5]), max: new Float32Array([1, 0.5]) };
  const m = { data: new Float32Array([-5, 0.5, 5, 9]), rows: 2, cols: 2 };
  assert.deepEqual(Array.from(quantizeEmbeddings(m, 'int8', { ranges }).data), [-128, -128, 127, -128]);
  assert.deepEqual(Array.from(quantizeEmbeddings(m, 'uint8', { ranges }).data), [0, 0, 255, 0]);
});

test('bad input is an ArgumentError naming the argument', () => {
  const m = { data: new Float32Array([1, Number.NaN]), rows: 1, cols: 2 };
  assert.throws(
    () => quantizeEmbeddings(m, 'int8'),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'embeddings',
  );
  const ok = { data: new Float32Array([1, 2]), rows: 1, cols: 2 };
  const calibration = { data: new Float32Array([1, 2, 3]), rows: 1, cols: 3 };
  assert.throws(
    () => quantizeEmbeddings(ok, 'int8', { calibration }),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'calibration',
  );
  const ranges = { min: new Float32Array([1, 0]), max: new Float32Array([0, 1]) };
  assert.throws(
    () => quantizeEmbeddings(ok, 'uint8', { ranges }),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'ranges',
  );
  assert.throws(
    () => quantizeEmbeddings(ok, 'int4' as 'int8'),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'precision',
  );
});

test('dequantizeInt8 is the middle of the values each int8 code holds (trunc toward zero makes 0 twice as wide)', () => {
  const q = new ScalarQuantizer({ min: Float32Array.of(-1, 0.25), max: Float32Array.of(1, 0.75) });
  for (let j = 0; j < 2; j++) {
    const lo = q.min[j];
    const hi = q.max[j];
    // Every code's values, from a fine grid over the range: the dequantized value is their middle.
    const seen = new Map<number, { min: number; max: number }>();
    for (let i = 0; i <= 200_000; i++) {
      const x = lo + ((hi - lo) * i) / 200_000;
      const c = q.int8(x, j);
      const s = seen.get(c) ?? { min: Infinity, max: -Infinity };
      seen.set(c, { min: Math.min(s.min, x), max: Math.max(s.max, x) });
      assert.ok(Math.abs(q.dequantizeInt8(c, j) - x) <= q.steps[j] + 1e-6, `code ${c} of ${x}`);
    }
    // 127 needs t >= 255, which float rounding of (max - min) / step may miss at x = max: clamped values.
    assert.ok(seen.size >= 255 && seen.has(-128) && seen.has(126), `${seen.size} codes`);
    for (const [c, s] of seen) {
      if (c === -128 || c === 127) continue; // single points at the range's ends
      const tol = q.steps[j] / 100; // grid resolution
      assert.ok(
        Math.abs(q.dequantizeInt8(c, j) - (s.min + s.max) / 2) < tol,
        `code ${c}: middle of [${s.min}, ${s.max}]`,
      );
    }
    assert.ok(Math.abs(q.dequantizeInt8(-128, j) - lo) < 1e-6);
    assert.ok(Math.abs(q.dequantizeInt8(127, j) - hi) < 1e-6);
  }
});
