import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/index.js';
import { assertClose, onBoth, randomTensor } from './kernels-parity.js';

before(async () => {
  assert.equal(await initBackend({ backend: 'wasm' }), 'wasm');
});

const cases: { shape: number[]; reps: number[] }[] = [
  { shape: [5], reps: [3] },
  { shape: [3, 4], reps: [2, 1] },
  { shape: [3, 4], reps: [1, 3] },
  { shape: [3, 1], reps: [2, 7] },
  { shape: [2, 3, 5], reps: [2, 3, 2] },
  { shape: [2, 1, 3, 2], reps: [1, 4, 1, 3] },
  { shape: [3, 4], reps: [0, 2] },
];

for (const { shape, reps } of cases) {
  test(`tile [${shape}] by [${reps}]: wasm == cpu (float32, int32, bool)`, async () => {
    const f32 = await onBoth(() => tf.tidy(() => tf.tile(randomTensor(shape, 3), reps)));
    assertClose(f32.wasm, f32.cpu, 0);
    const i32 = await onBoth(() =>
      tf.tidy(() => tf.tile(tf.cast(tf.mul(randomTensor(shape, 4), 100), 'int32'), reps)),
    );
    assert.equal(i32.wasm.values.constructor, Int32Array);
    assert.deepEqual(Array.from(i32.wasm.values), Array.from(i32.cpu.values));
    const bool = await onBoth(() => tf.tidy(() => tf.tile(tf.greater(randomTensor(shape, 5), 0), reps)));
    assert.deepEqual(bool.wasm.shape, bool.cpu.shape);
    assert.deepEqual(Array.from(bool.wasm.values), Array.from(bool.cpu.values));
  });
}

test('tf.where with broadcasting (which tiles) and the gradient of tile match cpu', async () => {
  const w = await onBoth(() =>
    tf.tidy(() =>
      tf.where(tf.greater(randomTensor([4, 1], 6), 0), randomTensor([4, 3], 7), randomTensor([1, 3], 8)),
    ),
  );
  assertClose(w.wasm, w.cpu, 0);
  const g = await onBoth(() =>
    tf.tidy(() =>
      tf.grad((x: tf.Tensor) => tf.sum(tf.mul(tf.tile(x, [2, 3]), randomTensor([6, 6], 9))))(
        randomTensor([3, 2], 10),
      ),
    ),
  );
  assertClose(g.wasm, g.cpu, 1e-5);
});

test('tile of string tensors works (the stock wasm kernel aborts the module on them)', async () => {
  await tf.setBackend('wasm');
  const t = tf.tile(tf.tensor1d(['a', 'b']), [2]);
  assert.deepEqual(t.arraySync(), ['a', 'b', 'a', 'b']);
  const u = tf.tile(
    tf.tensor2d([
      ['a', 'b'],
      ['c', 'd'],
    ]),
    [2, 2],
  );
  assert.deepEqual(u.arraySync(), [
    ['a', 'b', 'a', 'b'],
    ['c', 'd', 'c', 'd'],
    ['a', 'b', 'a', 'b'],
    ['c', 'd', 'c', 'd'],
  ]);
  tf.dispose([t, u]);
});
