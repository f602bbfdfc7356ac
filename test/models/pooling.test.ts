import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { l2Normalize, pool, POOLING_MODES } from '../../src/models/pooling.js';
import type { PoolingMode } from '../../src/models/pooling.js';

before(async () => {
  await initBackend();
});

// Two sequences of 3 tokens, hidden 2; the second has one padding token holding a large value that must
// not leak into mean or max.
const HIDDEN = [
  [
    [1, -1],
    [3, 5],
    [-2, 0],
  ],
  [
    [0, 2],
    [4, -6],
    [100, 100],
  ],
];
const MASK = [
  [1, 1, 1],
  [1, 1, 0],
];

test('every pooling mode over the attention mask (hand-computed)', () => {
  const h = tf.tensor3d(HIDDEN);
  const m = tf.tensor2d(MASK, undefined, 'int32');
  const expected: Record<PoolingMode, number[][]> = {
    cls: [
      [1, -1],
      [0, 2],
    ],
    mean: [
      [2 / 3, 4 / 3],
      [2, -2],
    ],
    max: [
      [3, 5],
      [4, 2],
    ],
    // sum(h m) / sqrt(count): row sums [2, 4] over 3 tokens and [4, -4] over 2.
    mean_sqrt_len_tokens: [
      [2 / Math.sqrt(3), 4 / Math.sqrt(3)],
      [4 / Math.SQRT2, -4 / Math.SQRT2],
    ],
    // Weights 1, 2, 3 by position: (1 [1,-1] + 2 [3,5] + 3 [-2,0]) / 6 and (1 [0,2] + 2 [4,-6]) / 3.
    weightedmean: [
      [1 / 6, 9 / 6],
      [8 / 3, -10 / 3],
    ],
    // The last unmasked token: position 2, and position 1 of the padded row.
    lasttoken: [
      [-2, 0],
      [4, -6],
    ],
  };
  const before = tf.memory().numTensors;
  for (const mode of POOLING_MODES) {
    const p = pool(h, m, mode);
    const got = p.arraySync();
    p.dispose();
    got
      .flat()
      .forEach((v, i) => assert.ok(Math.abs(v - expected[mode].flat()[i]) < 1e-6, `${mode}[${i}] = ${v}`));
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([h, m]);
});

test('max pooling with all-negative values ignores padding zeros', () => {
  const h = tf.tensor3d([
    [
      [-5, -3],
      [-1, -7],
      [0, 0],
    ],
  ]);
  const m = tf.tensor2d([[1, 1, 0]], undefined, 'int32');
  assert.deepEqual(pool(h, m, 'max').arraySync(), [[-1, -3]]);
});

test('l2Normalize gives unit rows and leaves zero rows at zero', () => {
  const x = tf.tensor2d([
    [3, 4],
    [0, 0],
  ]);
  const got = l2Normalize(x).arraySync().flat();
  [0.6, 0.8, 0, 0].forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-6, `${i}: ${got[i]}`));
});

test('bad pooling arguments name the argument', () => {
  const h = tf.tensor3d(HIDDEN);
  const m = tf.tensor2d(MASK, undefined, 'int32');
  assert.throws(
    () => pool(h, m, 'sum' as PoolingMode),
    (e: unknown) => {
      assert.ok(e instanceof ArgumentError);
      assert.equal(e.message, `pooling: unknown mode 'sum'; expected one of ${POOLING_MODES.join(', ')}`);
      return true;
    },
  );
  assert.throws(
    () => pool(h, tf.tensor2d([[1, 1]], undefined, 'int32'), 'mean'),
    /attentionMask: shape \[1, 2\] does not match hidden \[2, 3, 2\]/,
  );
});
