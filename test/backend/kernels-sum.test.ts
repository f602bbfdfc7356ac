import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/index.js';
import { assertClose, onBoth, randomTensor } from './kernels-parity.js';

before(async () => {
  assert.equal(await initBackend({ backend: 'wasm' }), 'wasm');
});

const cases: { shape: number[]; axis: number | number[] | undefined; keepDims: boolean }[] = [
  { shape: [1024, 384], axis: 0, keepDims: false },
  { shape: [1, 37, 5], axis: [0, 1], keepDims: false },
  { shape: [2, 5, 7], axis: [1, 0], keepDims: true },
  { shape: [4, 3, 2], axis: 0, keepDims: true },
  { shape: [6, 4], axis: -1, keepDims: false },
  { shape: [3, 4, 5], axis: [0, 2], keepDims: false },
  { shape: [3, 4], axis: undefined, keepDims: false },
  { shape: [1, 4], axis: 0, keepDims: false },
];

for (const { shape, axis, keepDims } of cases) {
  test(`sum [${shape}] over ${JSON.stringify(axis)} keepDims=${keepDims}: wasm == cpu`, async () => {
    const { cpu, wasm } = await onBoth(() => tf.tidy(() => tf.sum(randomTensor(shape, 1), axis, keepDims)));
    assertClose(wasm, cpu, 1e-5);
  });
}

test('sum of int32 and bool over a leading axis still works (stock kernel)', async () => {
  await tf.setBackend('wasm');
  const i = tf.sum(
    tf.tensor2d(
      [
        [1, 2],
        [3, 4],
      ],
      undefined,
      'int32',
    ),
    0,
  );
  assert.equal(i.dtype, 'int32');
  assert.deepEqual(Array.from(i.dataSync()), [4, 6]);
  const b = tf.sum(
    tf.tensor2d(
      [
        [true, false],
        [true, true],
      ],
      undefined,
      'bool',
    ),
    0,
  );
  assert.deepEqual(Array.from(b.dataSync()), [2, 1]);
  tf.dispose([i, b]);
});

test('the bias gradient of a dense layer (sum over rows) matches cpu', async () => {
  const { cpu, wasm } = await onBoth(() =>
    tf.tidy(() => {
      const x = randomTensor([2, 9, 6], 2);
      const w = randomTensor([6, 5], 3);
      const r = randomTensor([2, 9, 5], 4);
      return tf.grad((bias: tf.Tensor) => tf.sum(tf.mul(tf.add(tf.matMul(x, w), bias), r)))(
        randomTensor([5], 5),
      );
    }),
  );
  assertClose(wasm, cpu, 1e-5);
});
