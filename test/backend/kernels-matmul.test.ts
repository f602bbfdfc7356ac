import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  BackendError,
  initBackend,
  registerWasmKernels,
  registeredWasmKernels,
  unregisterWasmKernels,
} from '../../src/index.js';
import { assertClose, onBoth, randomTensor } from './kernels-parity.js';

before(async () => {
  assert.equal(await initBackend({ backend: 'wasm' }), 'wasm');
});

/** [a shape, b shape] as stored (before the transpose flags apply). */
function shapes(
  m: number,
  k: number,
  n: number,
  ta: boolean,
  tb: boolean,
  batchA: number[],
  batchB: number[],
) {
  return [
    [...batchA, ...(ta ? [k, m] : [m, k])],
    [...batchB, ...(tb ? [n, k] : [k, n])],
  ];
}

const combos = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const;

const layouts: { name: string; m: number; k: number; n: number; batchA: number[]; batchB: number[] }[] = [
  { name: '2-D odd sizes', m: 7, k: 13, n: 5, batchA: [], batchB: [] },
  { name: '2-D larger', m: 65, k: 33, n: 17, batchA: [], batchB: [] },
  { name: '2-D one row', m: 1, k: 9, n: 4, batchA: [], batchB: [] },
  // Wider than tall with transposeA: the weight-gradient shape computed as (b^T a)^T; sizes cross the
  // transpose's 64-wide tiles.
  { name: '2-D wide output', m: 17, k: 70, n: 66, batchA: [], batchB: [] },
  { name: 'rank-3 single batch, wide output', m: 9, k: 20, n: 31, batchA: [1], batchB: [1] },
  { name: 'rank-3 batched', m: 7, k: 13, n: 5, batchA: [3], batchB: [3] },
  { name: 'rank-3 against shared b', m: 7, k: 13, n: 5, batchA: [4], batchB: [1] },
  { name: 'rank-3 shared a against batched b', m: 7, k: 13, n: 5, batchA: [1], batchB: [4] },
  { name: 'rank-4 batched (attention)', m: 6, k: 4, n: 6, batchA: [2, 3], batchB: [2, 3] },
  { name: 'rank-4 two-way broadcast', m: 5, k: 3, n: 7, batchA: [2, 1], batchB: [1, 3] },
];

for (const layout of layouts) {
  for (const [ta, tb] of combos) {
    test(`matMul ${layout.name}, transposeA=${ta} transposeB=${tb}: wasm == cpu`, async () => {
      const [as, bs] = shapes(layout.m, layout.k, layout.n, ta, tb, layout.batchA, layout.batchB);
      // The cpu reference gets explicitly broadcast operands: its own kernel computes only max(batchA,
      // batchB) products, so it is silently wrong for two-way broadcasts such as [2,1,..] x [1,3,..].
      const outBatch = layout.batchA.map((d, i) => Math.max(d, layout.batchB[i]));
      const full = (t: tf.Tensor): tf.Tensor => tf.broadcastTo(t, [...outBatch, ...t.shape.slice(-2)]);
      await tf.setBackend('cpu');
      const expected = tf.tidy(() => tf.matMul(full(randomTensor(as, 1)), full(randomTensor(bs, 2)), ta, tb));
      const cpu = { shape: expected.shape, values: expected.dataSync() as Float32Array };
      expected.dispose();
      const { wasm } = await onBoth(() =>
        tf.tidy(() => tf.matMul(randomTensor(as, 1), randomTensor(bs, 2), ta, tb)),
      );
      assertClose(wasm, cpu, 1e-4, `[${as}] x [${bs}]`);
    });
  }
}

test('matMul of a rank-3 tensor with a rank-2 weight folds the batch into rows', async () => {
  const { cpu, wasm } = await onBoth(() =>
    tf.tidy(() => tf.matMul(randomTensor([4, 6, 8], 3), randomTensor([8, 5], 4))),
  );
  assert.deepEqual(wasm.shape, [4, 6, 5]);
  assertClose(wasm, cpu);
});

test('matMul gradients (every transpose combo, batched) match cpu', async () => {
  for (const [ta, tb] of combos) {
    const [as, bs] = shapes(5, 6, 3, ta, tb, [2], [2]);
    const grad = (which: 0 | 1) =>
      tf.tidy(() => {
        const a = randomTensor(as, 5);
        const b = randomTensor(bs, 6);
        const r = randomTensor([2, 5, 3], 7);
        const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y, ta, tb), r)))([
          a,
          b,
        ]);
        return g[which];
      });
    for (const which of [0, 1] as const) {
      const { cpu, wasm } = await onBoth(() => grad(which));
      assertClose(wasm, cpu, 1e-4, `grad ${which} ta=${ta} tb=${tb}`);
    }
  }
});

test('repeated products with the same weight stay correct (XNNPACK caches packed weights per tensor)', async () => {
  await tf.setBackend('wasm');
  const w = randomTensor([8, 4], 8);
  const x = randomTensor([3, 8], 9);
  const first = tf.matMul(x, w).arraySync();
  for (let i = 0; i < 3; i++) {
    const t = tf.matMul(x, w, false, false);
    assert.deepEqual(t.arraySync(), first);
    t.dispose();
  }
  // A transposed use of the same weight must not pick up the untransposed packing.
  const xt = randomTensor([3, 4], 10);
  const { cpu, wasm } = await onBoth(() =>
    tf.tidy(() => tf.matMul(randomTensor([3, 4], 10), randomTensor([8, 4], 8), false, true)),
  );
  assertClose(wasm, cpu);
  tf.dispose([w, x, xt]);
});

const activations = ['linear', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu'] as const;

for (const activation of activations) {
  test(`fused matMul (${activation}, bias) batched and shared-weight, all transposes: wasm == cpu`, async () => {
    for (const [ta, tb] of combos) {
      for (const [batchA, batchB] of [
        [[3], [1]],
        [[3], [3]],
        [[1], [2]],
      ]) {
        const [as, bs] = shapes(4, 6, 5, ta, tb, batchA, batchB);
        const { cpu, wasm } = await onBoth(() =>
          tf.tidy(() =>
            tf.fused.matMul({
              a: randomTensor(as, 11) as tf.Tensor3D,
              b: randomTensor(bs, 12) as tf.Tensor3D,
              transposeA: ta,
              transposeB: tb,
              bias: randomTensor([5], 13),
              activation,
              preluActivationWeights: activation === 'prelu' ? randomTensor([5], 14) : undefined,
              leakyreluAlpha: 0.3,
            }),
          ),
        );
        assertClose(wasm, cpu, 1e-4, `${activation} [${as}] x [${bs}] ta=${ta} tb=${tb}`);
      }
    }
  });
}

test('registration is idempotent and reversible', async () => {
  await tf.setBackend('wasm');
  registerWasmKernels();
  const ours = tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc;
  registerWasmKernels();
  assert.equal(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc, ours);
  assert.deepEqual(registeredWasmKernels().sort(), [
    'BatchMatMul',
    'Cast',
    'GatherV2',
    'Identity',
    'Sum',
    'Tile',
    'Transpose',
    'UnsortedSegmentSum',
    '_FusedMatMul',
  ]);
  unregisterWasmKernels(['BatchMatMul']);
  assert.notEqual(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc, ours);
  assert.ok(tf.getKernel('BatchMatMul', 'wasm'), 'the stock kernel is back');
  assert.ok(tf.getKernel('UnsortedSegmentSum', 'wasm'));
  unregisterWasmKernels();
  assert.equal(tf.getKernel('UnsortedSegmentSum', 'wasm'), undefined);
  registerWasmKernels();
  assert.equal(registeredWasmKernels().length, 9);
  // Stock kernels still compute (and our re-registered ones too).
  const y = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
  assert.deepEqual(Array.from(y.dataSync()), [11]);
  y.dispose();
});

test('matMul on wasm leaks no tensors over repeated calls', async () => {
  await tf.setBackend('wasm');
  const a = randomTensor([2, 3, 5, 4], 20);
  const b = randomTensor([2, 3, 6, 4], 21);
  const start = tf.memory().numTensors;
  for (let i = 0; i < 5; i++) tf.matMul(a, b, false, true).dispose();
  assert.equal(tf.memory().numTensors, start);
  tf.dispose([a, b]);
});

test('the same memory used as a weight under two shapes gives correct products (stock wasm reuses the first packing)', async () => {
  await tf.setBackend('wasm');
  const w = tf.tensor2d([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const first = tf.matMul(tf.tensor2d([[1, 1]]), w);
  assert.deepEqual(Array.from(first.dataSync()), [5, 7, 9]);
  const reshaped = tf.matMul(tf.tensor2d([[1, 1, 1]]), tf.reshape(w, [3, 2]));
  assert.deepEqual(Array.from(reshaped.dataSync()), [9, 12]);
  // A data-free transpose ([1,3] -> [3,1]) shares memory too.
  const row = tf.tensor2d([[1, 2, 3]]);
  assert.deepEqual(Array.from(tf.matMul(tf.tensor2d([[2]]), row).dataSync()), [2, 4, 6]);
  assert.deepEqual(Array.from(tf.matMul(tf.tensor2d([[1, 1, 1]]), tf.transpose(row)).dataSync()), [6]);
  const fusedFirst = tf.fused.matMul({ a: tf.tensor2d([[1, 1]]), b: w, bias: tf.tensor1d([1, 1, 1]) });
  assert.deepEqual(Array.from(fusedFirst.dataSync()), [6, 8, 10]);
  const fusedReshaped = tf.fused.matMul({
    a: tf.tensor2d([[1, 1, 1]]),
    b: tf.reshape(w, [3, 2]) as tf.Tensor2D,
  });
  assert.deepEqual(Array.from(fusedReshaped.dataSync()), [9, 12]);
  const fusedFolded = tf.fused.matMul({
    a: tf.tensor3d([[[1, 1, 1]], [[1, 0, 0]]]),
    b: tf.reshape(w, [1, 3, 2]) as tf.Tensor3D,
  });
  assert.deepEqual(Array.from(fusedFolded.dataSync()), [9, 12, 1, 2]);
});

test('registering against an incompatible tfjs-backend-wasm is a BackendError, not a crash later', async () => {
  await tf.setBackend('wasm');
  const module = (tf.findBackend('wasm') as unknown as { wasm: Record<string, unknown> }).wasm;
  const saved = module._BatchMatMul;
  unregisterWasmKernels();
  module._BatchMatMul = undefined;
  try {
    assert.throws(
      () => registerWasmKernels(),
      (e: unknown) => {
        assert.ok(e instanceof BackendError);
        assert.match(
          e.message,
          /does not expose the internals dense-retrieval's wasm kernels use \(written for 4\.22\)/,
        );
        return true;
      },
    );
    assert.deepEqual(registeredWasmKernels(), []);
  } finally {
    module._BatchMatMul = saved;
    registerWasmKernels();
  }
  assert.equal(registeredWasmKernels().length, 9);
});

test('fused matMul with a bias or prelu weights that must broadcast matches cpu (stock wasm adds [1] to one column)', async () => {
  for (const [as, bs, biasShape, preluShape] of [
    [[2, 3], [3, 4], [1], undefined],
    [[2, 3], [3, 4], [2, 4], undefined],
    [[2, 2, 3], [2, 3, 4], [1], [1]],
    [[3, 2, 3], [1, 3, 4], [4], [1]],
  ] as [number[], number[], number[], number[] | undefined][]) {
    const { cpu, wasm } = await onBoth(() =>
      tf.tidy(() =>
        tf.fused.matMul({
          a: randomTensor(as, 21) as tf.Tensor3D,
          b: randomTensor(bs, 22) as tf.Tensor3D,
          bias: randomTensor(biasShape, 23),
          activation: preluShape === undefined ? 'linear' : 'prelu',
          preluActivationWeights: preluShape === undefined ? undefined : randomTensor(preluShape, 24),
        }),
      ),
    );
    assertClose(wasm, cpu, 1e-5, `[${as}] x [${bs}] + [${biasShape}] prelu [${preluShape}]`);
  }
});
