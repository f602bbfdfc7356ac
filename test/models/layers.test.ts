import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/index.js';
import { BertModel, bertInternals, parseBertConfig } from '../../src/models/architectures/bert.js';
import {
  dropout,
  dropoutMask,
  geluErf,
  geluTanh,
  layerNorm,
  linear,
  scaleBy,
} from '../../src/models/layers.js';

// The composed-op versions the fused blocks replace (tfjs computes their gradients op by op).
const composed = {
  geluErf: (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)),
  geluTanh: (x: tf.Tensor) => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  },
  layerNorm: (x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number) => {
    const { mean, variance } = tf.moments(x, -1, true);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return tf.add(tf.mul(normed, gamma), beta);
  },
  linear: (x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D) => tf.add(tf.matMul(x, kernel), bias),
};

before(async () => {
  assert.equal(await initBackend({ backend: 'wasm' }), 'wasm');
});

/** Deterministic normal-ish values (seeded tfjs RNG, the same on every backend). */
function rnd(shape: number[], seed: number, scale = 1, shift = 0): tf.Tensor {
  return tf.tidy(() => tf.add(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed), scale), shift));
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

function maxAbs(a: tf.Tensor): number {
  return Math.max(...Array.from(a.dataSync(), Math.abs));
}

/** Values and gradients of `fused` and `reference` w.r.t. every input, with a random upstream gradient. */
function compare(
  fused: (...xs: tf.Tensor[]) => tf.Tensor,
  reference: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
  rtol: number,
  what: string,
): void {
  const start = tf.memory().numTensors;
  tf.tidy(() => {
    const outShape = fused(...inputs).shape;
    const upstream = rnd(outShape, 99);
    const loss =
      (f: typeof fused) =>
      (...xs: tf.Tensor[]) =>
        tf.sum(tf.mul(f(...xs), upstream)) as tf.Scalar;
    const a = tf.valueAndGrads(loss(fused))(inputs);
    const b = tf.valueAndGrads(loss(reference))(inputs);
    // Forward: the same ops in the same order, so bit-identical.
    assert.equal(maxAbsDiff(fused(...inputs), reference(...inputs)), 0, `${what}: forward`);
    a.grads.forEach((g, i) => {
      const tol = rtol * Math.max(maxAbs(b.grads[i]), 1e-3);
      const d = maxAbsDiff(g, b.grads[i]);
      assert.ok(d <= tol, `${what}: gradient of input ${i} differs by ${d} (tolerance ${tol})`);
    });
  });
  assert.equal(tf.memory().numTensors, start, `${what}: tensors leaked`);
}

for (const backend of ['cpu', 'wasm']) {
  test(`geluErf: values and gradient equal the composed ops (${backend})`, async () => {
    await tf.setBackend(backend);
    const x = rnd([37, 50], 1, 3);
    compare(geluErf, composed.geluErf, [x], 1e-5, 'geluErf');
    x.dispose();
  });

  test(`geluTanh: values and gradient equal the composed ops (${backend})`, async () => {
    await tf.setBackend(backend);
    const x = rnd([37, 50], 2, 3);
    compare(geluTanh, composed.geluTanh, [x], 1e-5, 'geluTanh');
    x.dispose();
  });

  test(`layerNorm: values and gradients for x, gamma, beta equal the composed ops (${backend})`, async () => {
    await tf.setBackend(backend);
    // Rows with an offset and a large spread, as residual streams have.
    const x = rnd([33, 48], 3, 4, 1.5) as tf.Tensor2D;
    const gamma = rnd([48], 4, 0.5, 1) as tf.Tensor1D;
    const beta = rnd([48], 5, 0.2) as tf.Tensor1D;
    for (const eps of [1e-12, 1e-5]) {
      compare(
        (a, g, b) => layerNorm(a as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D, eps),
        (a, g, b) => composed.layerNorm(a as tf.Tensor2D, g as tf.Tensor1D, b as tf.Tensor1D, eps),
        [x, gamma, beta],
        1e-4,
        `layerNorm eps ${eps}`,
      );
    }
    tf.dispose([x, gamma, beta]);
  });

  test(`linear: gradients for x, kernel, bias equal the composed ops (${backend})`, async () => {
    await tf.setBackend(backend);
    const x = rnd([19, 24], 6) as tf.Tensor2D;
    const k = rnd([24, 40], 7) as tf.Tensor2D;
    const b = rnd([40], 8) as tf.Tensor1D;
    const start = tf.memory().numTensors;
    tf.tidy(() => {
      const upstream = rnd([19, 40], 9);
      const loss =
        (f: (...xs: tf.Tensor[]) => tf.Tensor) =>
        (...xs: tf.Tensor[]) =>
          tf.sum(tf.mul(f(...xs), upstream)) as tf.Scalar;
      const fusedLinear = (...xs: tf.Tensor[]) =>
        linear(xs[0] as tf.Tensor2D, xs[1] as tf.Tensor2D, xs[2] as tf.Tensor1D);
      const ref = (...xs: tf.Tensor[]) =>
        composed.linear(xs[0] as tf.Tensor2D, xs[1] as tf.Tensor2D, xs[2] as tf.Tensor1D);
      // The forward is the same fused matMul kernel as before; the product may differ from matMul + add in
      // the last bits, so values are compared with a tolerance here.
      assert.ok(maxAbsDiff(fusedLinear(x, k, b), ref(x, k, b)) <= 1e-5 * maxAbs(ref(x, k, b)));
      const ga = tf.grads(loss(fusedLinear))([x, k, b]);
      const gb = tf.grads(loss(ref))([x, k, b]);
      ga.forEach((g, i) => assert.ok(maxAbsDiff(g, gb[i]) <= 1e-5 * maxAbs(gb[i]), `input ${i}`));
    });
    assert.equal(tf.memory().numTensors, start);
    tf.dispose([x, k, b]);
  });

  test(`scaleBy: same values as tf.mul and gradients; dropout: seeded masks, rescaling and gradient (${backend})`, async () => {
    await tf.setBackend(backend);
    const x = rnd([16, 30], 10);
    compare(
      (a) => scaleBy(a, 0.125),
      (a) => tf.mul(a, 0.125),
      [x],
      1e-6,
      'scaleBy',
    );
    for (const seed of ['7:0', 3]) {
      // The same seed gives the same mask; kept elements are x / (1 - rate), the others 0.
      const y1 = dropout(x, 0.25, seed);
      const y2 = dropout(x, 0.25, seed);
      assert.deepEqual(Array.from(y1.dataSync()), Array.from(y2.dataSync()));
      const xs = x.dataSync();
      const ys = y1.dataSync();
      for (let i = 0; i < xs.length; i++) {
        assert.ok(ys[i] === 0 || ys[i] === Math.fround(xs[i] * Math.fround(1 / 0.75)), `element ${i}`);
      }
      // The gradient is the same multiplier.
      const w = rnd([16, 30], 12);
      const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(dropout(a, 0.25, seed), w)) as tf.Scalar)(x);
      const expected = tf.tidy(() => tf.mul(w, tf.div(tf.cast(tf.notEqual(y1, 0), 'float32'), 0.75)));
      assert.ok(maxAbsDiff(g, expected) <= 1e-6, `dropout gradient, seed ${seed}`);
      tf.dispose([y1, y2, w, g, expected]);
    }
    tf.dispose(x);
  });

  test(`dropout masks: the drop rate holds, seeds give independent masks, unseeded calls differ (${backend})`, async () => {
    await tf.setBackend(backend);
    const n = 100_000;
    const kept = (m: tf.Tensor): Uint8Array => m.dataSync() as Uint8Array;
    for (const rate of [0.1, 0.25, 0.5]) {
      const { mask, multiplier } = dropoutMask([n], rate, 'rate-check');
      const k = kept(mask).reduce((a, b) => a + b, 0);
      // Binomial(n, 1 - rate): 6 standard deviations.
      const sd = Math.sqrt(n * rate * (1 - rate));
      assert.ok(Math.abs(k - n * (1 - rate)) < 6 * sd, `rate ${rate}: kept ${k} of ${n}`);
      const mult = multiplier.dataSync();
      assert.ok(kept(mask).every((v, i) => mult[i] === (v === 1 ? Math.fround(1 / (1 - rate)) : 0)));
      tf.dispose([mask, multiplier]);
    }
    // Two seeds: masks agree where independent masks would (p^2 + q^2), and so do neighbouring elements.
    const a = dropoutMask([n], 0.25, '1:0');
    const b = dropoutMask([n], 0.25, '1:1');
    const u = dropoutMask([n], 0.25);
    const v = dropoutMask([n], 0.25);
    const agree = (p: Uint8Array, q: Uint8Array, shift = 0): number => {
      let same = 0;
      for (let i = 0; i + shift < n; i++) if (p[i] === q[i + shift]) same++;
      return same / (n - shift);
    };
    const independent = 0.75 * 0.75 + 0.25 * 0.25;
    assert.ok(Math.abs(agree(kept(a.mask), kept(b.mask)) - independent) < 0.01);
    assert.ok(Math.abs(agree(kept(a.mask), kept(a.mask), 1) - independent) < 0.01);
    assert.ok(Math.abs(agree(kept(u.mask), kept(v.mask)) - independent) < 0.01, 'unseeded masks are fresh');
    tf.dispose([a.mask, a.multiplier, b.mask, b.multiplier, u.mask, u.multiplier, v.mask, v.multiplier]);
  });
}

test('the fused blocks keep fewer bytes on the tape than the composed ops', async () => {
  // tf.profile's peak counts every tensor alive at once, including what the tape keeps for backward.
  await tf.setBackend('cpu');
  const x = rnd([64, 256], 11) as tf.Tensor2D;
  const gamma = tf.ones([256]) as tf.Tensor1D;
  const beta = tf.zeros([256]) as tf.Tensor1D;
  const peak = async (f: (t: tf.Tensor) => tf.Tensor) =>
    (
      await tf.profile(() => {
        const g = tf.grad((t: tf.Tensor) => tf.sum(f(t)) as tf.Scalar)(x);
        g.dispose();
      })
    ).peakBytes;
  const block = (t: tf.Tensor) => geluErf(layerNorm(t as tf.Tensor2D, gamma, beta, 1e-12));
  const reference = (t: tf.Tensor) =>
    composed.geluErf(composed.layerNorm(t as tf.Tensor2D, gamma, beta, 1e-12));
  const fusedPeak = await peak(block);
  const composedPeak = await peak(reference);
  assert.ok(fusedPeak < composedPeak * 0.75, `fused ${fusedPeak} B vs composed ${composedPeak} B`);
  tf.dispose([x, gamma, beta]);
});

for (const backend of ['cpu', 'wasm']) {
  for (const act of ['gelu', 'gelu_new', 'relu'] as const) {
    test(`fused BERT layer: same output and gradients of every variable as the composed ops, ${act}, dropout on (${backend})`, async () => {
      await tf.setBackend(backend);
      const config = parseBertConfig({
        model_type: 'bert',
        vocab_size: 50,
        hidden_size: 24,
        num_hidden_layers: 2,
        num_attention_heads: 3,
        intermediate_size: 40,
        hidden_act: act,
        hidden_dropout_prob: 0.2,
        attention_probs_dropout_prob: 0.3,
      });
      const bert = BertModel.random(config, 5);
      const vars = [...bert.variables().values()];
      const inputIds = tf.tensor2d(
        [
          [2, 7, 9, 11, 3, 0],
          [2, 13, 4, 3, 0, 0],
        ],
        undefined,
        'int32',
      );
      const attentionMask = tf.tensor2d(
        [
          [1, 1, 1, 1, 1, 0],
          [1, 1, 1, 1, 0, 0],
        ],
        undefined,
        'int32',
      );
      const tokenTypeIds = tf.zerosLike(inputIds);
      const upstream = rnd([2, 6, 24], 21);
      const run = (fused: boolean) => {
        bertInternals.fusedLayers = fused;
        try {
          return tf.variableGrads(() => {
            const h = bert.forward(
              { inputIds, attentionMask, tokenTypeIds },
              { training: true, dropoutSeed: 4 },
            );
            return tf.sum(tf.mul(h, upstream)) as tf.Scalar;
          }, vars);
        } finally {
          bertInternals.fusedLayers = true;
        }
      };
      const start = tf.memory().numTensors;
      const fused = run(true);
      const reference = run(false);
      assert.equal(fused.value.dataSync()[0], reference.value.dataSync()[0], 'forward is bit-identical');
      for (const v of vars) {
        const a = fused.grads[v.name];
        const b = reference.grads[v.name];
        const tol = 2e-5 * Math.max(maxAbs(b), 1e-3);
        const d = maxAbsDiff(a, b);
        assert.ok(d <= tol, `${v.name}: ${d} > ${tol}`);
      }
      // Not vacuous: dropout was on, every layer variable got a non-zero gradient.
      assert.ok(
        maxAbs(fused.grads[bert.variables().get('encoder.layer.1.attention.self.key.weight')!.name]) > 0,
      );
      tf.dispose([
        fused.value,
        reference.value,
        ...Object.values(fused.grads),
        ...Object.values(reference.grads),
      ]);
      assert.equal(tf.memory().numTensors, start, 'no tensors leaked');
      bert.dispose();
      tf.dispose([inputIds, attentionMask, tokenTypeIds, upstream]);
    });
  }
}
