import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/index.js';
import { movesNoData } from '../../src/backend/kernels/transpose.js';
import { assertClose, onBoth, randomTensor } from './kernels-parity.js';

before(async () => {
  assert.equal(await initBackend({ backend: 'wasm' }), 'wasm');
});

test('movesNoData: identity up to size-1 dims only', () => {
  assert.equal(movesNoData([3, 4], [0, 1]), true);
  assert.equal(movesNoData([3, 4], [1, 0]), false);
  assert.equal(movesNoData([1, 4], [1, 0]), true);
  assert.equal(movesNoData([2, 1, 5], [0, 2, 1]), true);
  assert.equal(movesNoData([2, 3, 5], [0, 2, 1]), false);
  assert.equal(movesNoData([1, 3, 1, 5], [2, 1, 0, 3]), true);
});

for (const { shape, perm } of [
  { shape: [3, 4], perm: [0, 1] },
  { shape: [1, 4], perm: [1, 0] },
  { shape: [2, 1, 5], perm: [0, 2, 1] },
  { shape: [2, 3, 5], perm: [0, 2, 1] },
  { shape: [2, 3, 4, 5], perm: [0, 2, 1, 3] },
  // Matrix transposes take the blocked JavaScript path: tile edges (64) not dividing the sizes, a batch.
  { shape: [130, 67], perm: [1, 0] },
  { shape: [3, 65, 129], perm: [0, 2, 1] },
  { shape: [2, 2, 70, 3], perm: [0, 1, 3, 2] },
]) {
  test(`transpose [${shape}] by [${perm}]: wasm == cpu`, async () => {
    const { cpu, wasm } = await onBoth(() => tf.tidy(() => tf.transpose(randomTensor(shape, 1), perm)));
    assertClose(wasm, cpu, 0);
  });
}

test('a data-free transpose shares memory safely: input and output live and die independently', async () => {
  await tf.setBackend('wasm');
  const start = tf.memory().numTensors;
  const x = tf.tensor3d([[[1], [2], [3]]]);
  const y = tf.transpose(x, [0, 2, 1]);
  assert.deepEqual(y.shape, [1, 1, 3]);
  x.dispose();
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3]);
  const z = tf.add(y, 1);
  y.dispose();
  assert.deepEqual(Array.from(z.dataSync()), [2, 3, 4]);
  z.dispose();
  assert.equal(tf.memory().numTensors, start);
  // Gradients through it (the gather gradient ends with such a transpose).
  const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.transpose(t, [1, 0]), tf.tensor2d([[2, 3]]))))(
    tf.tensor2d([[1], [1]]),
  );
  assert.deepEqual(Array.from(g.dataSync()), [2, 3]);
  g.dispose();
});
