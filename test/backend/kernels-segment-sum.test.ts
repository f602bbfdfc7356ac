import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ArgumentError, initBackend } from '../../src/index.js';
import { assertClose, onBoth, randomTensor } from './kernels-parity.js';

before(async () => {
  assert.equal(await initBackend({ backend: 'wasm' }), 'wasm');
});

test('unsortedSegmentSum sums repeated, out-of-order ids like cpu (rank-2 and rank-3 x)', async () => {
  const ids = [3, 0, 3, 1, 0, 3];
  for (const shape of [
    [6, 4],
    [6, 2, 3],
  ]) {
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() => tf.unsortedSegmentSum(randomTensor(shape, 1), tf.tensor1d(ids, 'int32'), 5)),
    );
    assert.deepEqual(wasm.shape, [5, ...shape.slice(1)]);
    assertClose(wasm, cpu, 1e-6);
  }
});

test('unsortedSegmentSum: exact values, empty segments are zero, int32 stays int32', async () => {
  await tf.setBackend('wasm');
  const x = tf.tensor2d(
    [
      [1, 2],
      [10, 20],
      [100, 200],
    ],
    undefined,
    'int32',
  );
  const y = tf.unsortedSegmentSum(x, tf.tensor1d([2, 0, 2], 'int32'), 4);
  assert.equal(y.dtype, 'int32');
  assert.deepEqual(y.arraySync(), [
    [10, 20],
    [0, 0],
    [101, 202],
    [0, 0],
  ]);
  tf.dispose([x, y]);
});

test('unsortedSegmentSum drops negative ids (TensorFlow semantics)', async () => {
  await tf.setBackend('wasm');
  const y = tf.unsortedSegmentSum(tf.tensor1d([1, 2, 4]), tf.tensor1d([0, -1, 0], 'int32'), 2);
  assert.deepEqual(Array.from(y.dataSync()), [5, 0]);
  y.dispose();
});

test('unsortedSegmentSum rejects an id >= numSegments, naming the argument, without leaking', async () => {
  await tf.setBackend('wasm');
  const x = tf.tensor1d([1, 2, 3]);
  const ids = tf.tensor1d([0, 7, 1], 'int32');
  const start = tf.memory().numTensors;
  assert.throws(
    () => tf.unsortedSegmentSum(x, ids, 3),
    (e: unknown) => {
      assert.ok(e instanceof ArgumentError);
      assert.equal(e.argument, 'segmentIds');
      assert.equal(e.message, 'segmentIds: segmentIds[1] = 7 is out of range [0, 3) in unsortedSegmentSum');
      return true;
    },
  );
  assert.equal(tf.memory().numTensors, start);
  tf.dispose([x, ids]);
});

test('the gradient of gather (embedding table) on wasm equals cpu, axis 0 and axis 1', async () => {
  for (const axis of [0, 1]) {
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() => {
        const table = randomTensor([7, 5], 2);
        const ids = tf.tensor1d([4, 1, 4, 0, 6, 4, 1], 'int32');
        const idsAxis1 = tf.tensor1d([2, 2, 0, 4], 'int32');
        const r = randomTensor(axis === 0 ? [7, 5] : [7, 4], 3);
        return tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, axis === 0 ? ids : idsAxis1, axis), r)))(
          table,
        );
      }),
    );
    assertClose(wasm, cpu, 1e-5, `axis ${axis}`);
  }
});

test('unsortedSegmentSum argument errors name the argument', async () => {
  await tf.setBackend('wasm');
  const x = tf.tensor2d([
    [1, 2],
    [3, 4],
  ]);
  const start = tf.memory().numTensors;
  const expectError = (f: () => unknown, argument: string, message: string): void => {
    assert.throws(f, (e: unknown) => {
      assert.ok(e instanceof ArgumentError);
      assert.equal(e.argument, argument);
      assert.equal(e.message, message);
      return true;
    });
  };
  expectError(
    () => tf.unsortedSegmentSum(x, tf.tensor1d([0, 1, 1], 'int32'), 2),
    'segmentIds',
    'segmentIds: shape [3] must be a prefix of x shape [2, 2] in unsortedSegmentSum',
  );
  expectError(
    () => tf.unsortedSegmentSum(x, tf.tensor1d([0, 1], 'int32'), -1),
    'numSegments',
    'numSegments: must be a non-negative integer in unsortedSegmentSum, got -1',
  );
  expectError(
    () => tf.unsortedSegmentSum(tf.tensor1d([true, false], 'bool'), tf.tensor1d([0, 1], 'int32'), 2),
    'x',
    'x: must be float32 or int32 in unsortedSegmentSum on wasm, got bool',
  );
  expectError(
    () =>
      tf.engine().runKernel('UnsortedSegmentSum', { x, segmentIds: tf.tensor1d([0, 1]) }, { numSegments: 2 }),
    'segmentIds',
    'segmentIds: must be int32 in unsortedSegmentSum, got float32',
  );
  // The inputs made inside the calls above are the only new tensors: no output leaked.
  assert.equal(tf.memory().numTensors, start + 5);
  x.dispose();
});
