import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ArgumentError, initBackend } from '../../src/index.js';
import { assertClose, onBoth, randomTensor } from './kernels-parity.js';

before(async () => {
  assert.equal(await initBackend({ backend: 'wasm' }), 'wasm');
});

const cases: {
  name: string;
  shape: number[];
  indices: number[];
  indicesShape: number[];
  axis: number;
  batchDims?: number;
}[] = [
  {
    name: 'embedding rows (repeats, out of order)',
    shape: [11, 20],
    indices: [3, 0, 3, 10, 7, 3],
    indicesShape: [6],
    axis: 0,
  },
  { name: '2-D ids', shape: [11, 20], indices: [1, 2, 3, 4, 5, 1], indicesShape: [2, 3], axis: 0 },
  { name: 'short slices', shape: [9, 3], indices: [8, 0, 8], indicesShape: [3], axis: 0 },
  { name: 'axis 1', shape: [4, 6, 5], indices: [5, 0, 2, 2], indicesShape: [4], axis: 1 },
  { name: 'last axis', shape: [4, 6], indices: [5, 1], indicesShape: [2], axis: -1 },
  {
    name: 'batchDims 1',
    shape: [3, 5, 4],
    indices: [0, 4, 1, 1, 2, 3],
    indicesShape: [3, 2],
    axis: 1,
    batchDims: 1,
  },
];

for (const c of cases) {
  test(`gather ${c.name}: wasm == cpu`, async () => {
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() =>
        tf.gather(
          randomTensor(c.shape, 1),
          tf.tensor(c.indices, c.indicesShape, 'int32'),
          c.axis,
          c.batchDims,
        ),
      ),
    );
    assertClose(wasm, cpu, 0, c.name);
  });
}

test('gather of int32 and bool tables keeps the dtype and values', async () => {
  await tf.setBackend('wasm');
  const ints = tf
    .tensor2d([
      [1, 2],
      [3, 4],
      [5, 6],
    ])
    .toInt();
  const g = tf.gather(ints, tf.tensor1d([2, 0, 2], 'int32'));
  assert.equal(g.dtype, 'int32');
  assert.deepEqual(g.arraySync(), [
    [5, 6],
    [1, 2],
    [5, 6],
  ]);
  const bools = tf.tensor1d([true, false, true], 'bool');
  const h = tf.gather(bools, tf.tensor1d([1, 2], 'int32'));
  assert.equal(h.dtype, 'bool');
  assert.deepEqual(Array.from(h.dataSync()), [0, 1]);
  tf.dispose([ints, g, bools, h]);
});

test('gather rejects out-of-range and negative ids with an ArgumentError naming indices, without leaking', async () => {
  await tf.setBackend('wasm');
  const table = tf.zeros([5, 3]);
  const start = tf.memory().numTensors;
  for (const [bad, pos] of [
    [5, 1],
    [-1, 1],
  ]) {
    const ids = tf.tensor1d([0, bad, 2], 'int32');
    assert.throws(
      () => tf.gather(table, ids),
      (e: unknown) => {
        assert.ok(e instanceof ArgumentError);
        assert.equal(
          e.message,
          `indices: gather index ${bad} (position ${pos}) is not in [0, 4] for axis 0 of shape [5, 3]`,
        );
        return true;
      },
    );
    ids.dispose();
  }
  assert.equal(tf.memory().numTensors, start);
  table.dispose();
});
