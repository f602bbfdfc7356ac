import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/index.js';
import { registeredWasmKernels } from '../../src/backend/kernels/index.js';
import type { WasmBackend } from '../../src/backend/kernels/wasm-internals.js';
import { assertClose, onBoth, randomTensor } from './kernels-parity.js';

before(async () => {
  assert.equal(await initBackend({ backend: 'wasm' }), 'wasm');
});

function wasmBackend(): WasmBackend {
  return tf.findBackend('wasm') as unknown as WasmBackend;
}

/** Byte offset of `t`'s data on the wasm heap. */
function offsetOf(t: tf.Tensor): number {
  return wasmBackend().dataIdMap.get(t.dataId).memoryOffset;
}

/** The wasm backend's refcount of `t`'s data. */
function refCountOf(t: tf.Tensor): number {
  return wasmBackend().dataIdMap.get(t.dataId).refCount;
}

test('Identity is registered on wasm', () => {
  assert.ok(registeredWasmKernels().includes('Identity'));
});

for (const [shape, dtype] of [
  [[3, 4], 'float32'],
  [[2, 3, 5], 'int32'],
  [[7], 'bool'],
  [[], 'float32'],
] as const) {
  test(`clone [${shape}] ${dtype}: wasm == cpu`, async () => {
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() => {
        const x = tf.mul(randomTensor(shape.slice(), 3), 5);
        // (`greater`, not a cast: wasm's stock float -> bool cast is wrong for negative values.)
        return tf.clone(dtype === 'bool' ? tf.greater(x, 0) : tf.cast(x, dtype));
      }),
    );
    assertClose(wasm, cpu, 0);
  });
}

test('clone shares the input memory (no copy) and input and clone live and die independently', async () => {
  await tf.setBackend('wasm');
  const start = tf.memory().numTensors;
  const x = tf.tensor2d([
    [1, 2],
    [3, 4],
  ]);
  const y = tf.clone(x);
  assert.equal(offsetOf(y), offsetOf(x), 'same heap memory');
  assert.equal(refCountOf(x), 2);
  x.dispose();
  assert.equal(refCountOf(y), 1);
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4]);
  // Fresh allocations after the input is gone must not land on the clone's memory.
  const other = tf.fill([2, 2], 9);
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4]);
  other.dispose();
  y.dispose();
  assert.equal(tf.memory().numTensors, start);
  // Cloning in the other order: the clone dies first.
  const a = tf.tensor1d([5, 6]);
  tf.clone(a).dispose();
  assert.deepEqual(Array.from(a.dataSync()), [5, 6]);
  a.dispose();
  assert.equal(tf.memory().numTensors, start);
});

test('string tensors still clone (stock kernel)', async () => {
  await tf.setBackend('wasm');
  const s = tf.tensor1d(['a', 'bc']);
  const c = tf.clone(s);
  s.dispose();
  assert.deepEqual(c.arraySync(), ['a', 'bc']);
  c.dispose();
});

test('variables made from, and assigned from, clones keep their values when the sources die', async () => {
  await tf.setBackend('wasm');
  const start = tf.memory().numTensors;
  const init = tf.tensor1d([1, 2, 3]);
  const initCopy = tf.clone(init);
  const v = tf.variable(initCopy, true, 'identity-test-var');
  init.dispose();
  initCopy.dispose();
  assert.deepEqual(Array.from(v.dataSync()), [1, 2, 3]);
  const src = tf.tensor1d([7, 8, 9]);
  const copy = tf.clone(src);
  v.assign(copy);
  copy.dispose();
  src.dispose();
  assert.deepEqual(Array.from(v.dataSync()), [7, 8, 9]);
  // A clone of the variable outlives the variable's next assignment.
  const snapshot = tf.clone(v);
  const next = tf.add(v, 1) as tf.Tensor1D;
  v.assign(next);
  next.dispose();
  assert.deepEqual(Array.from(snapshot.dataSync()), [7, 8, 9]);
  assert.deepEqual(Array.from(v.dataSync()), [8, 9, 10]);
  snapshot.dispose();
  v.dispose();
  assert.equal(tf.memory().numTensors, start);
});

test('tidy keeps a returned clone and frees the rest', async () => {
  await tf.setBackend('wasm');
  const start = tf.memory().numTensors;
  const kept = tf.tidy(() => {
    const x = tf.tensor1d([1, 2]);
    const c = tf.clone(x);
    tf.clone(c); // dropped by tidy
    return c;
  });
  assert.equal(tf.memory().numTensors, start + 1);
  assert.equal(refCountOf(kept), 1, 'the tidied input and other clone released their references');
  assert.deepEqual(Array.from(kept.dataSync()), [1, 2]);
  kept.dispose();
  assert.equal(tf.memory().numTensors, start);
});

test('gradients through the tape (which clones every saved tensor) match cpu and leak nothing', async () => {
  const f = () =>
    tf.tidy(() => {
      const w = randomTensor([6, 5], 11);
      const x = randomTensor([4, 6], 12);
      const loss = (t: tf.Tensor) =>
        tf.sum(tf.square(tf.tanh(tf.matMul(tf.clone(x), t as tf.Tensor2D)))) as tf.Scalar;
      return tf.grad(loss)(w);
    });
  const { cpu, wasm } = await onBoth(f);
  assertClose(wasm, cpu, 1e-5);
  await tf.setBackend('wasm');
  const start = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) f().dispose();
  assert.equal(tf.memory().numTensors, start);
});

test('a clone used as a matMul weight after its source died gives the right product', async () => {
  await tf.setBackend('wasm');
  const w = tf.tensor2d([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const c = tf.clone(w);
  const first = tf.matMul(tf.tensor2d([[1, 1]]), w);
  w.dispose();
  const second = tf.matMul(tf.tensor2d([[1, 0]]), c);
  assert.deepEqual(Array.from(first.dataSync()), [5, 7, 9]);
  assert.deepEqual(Array.from(second.dataSync()), [1, 2, 3]);
  tf.dispose([first, second, c]);
});

test('fused matMul still gets a fresh id for a weight packed under another shape (clones share ids otherwise)', async () => {
  await tf.setBackend('wasm');
  const w = tf.tensor2d([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const first = tf.fused.matMul({ a: tf.tensor2d([[1, 1]]), b: w, bias: tf.tensor1d([1, 1, 1]) });
  assert.deepEqual(Array.from(first.dataSync()), [6, 8, 10]);
  const clone = tf.clone(tf.reshape(w, [3, 2])) as tf.Tensor2D;
  const second = tf.fused.matMul({ a: tf.tensor2d([[1, 1, 1]]), b: clone, bias: tf.tensor1d([0, 1]) });
  assert.deepEqual(Array.from(second.dataSync()), [9, 13]);
  // A clone made inside no kernel still shares memory afterwards.
  const c2 = tf.clone(w);
  assert.equal(offsetOf(c2), offsetOf(w));
  tf.dispose([w, first, clone, second, c2]);
});
