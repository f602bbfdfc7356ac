import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/index.js';
import { makeProbeWeights, runProbe } from './kernels-probe.js';

before(async () => {
  assert.equal(await initBackend({ backend: 'wasm' }), 'wasm');
});

test('a BERT-shaped forward+backward runs on wasm and matches cpu (loss and every gradient)', async () => {
  const weights = makeProbeWeights({
    layers: 2,
    hidden: 32,
    heads: 4,
    intermediate: 64,
    seqLen: 8,
    batchSize: 4,
    vocab: 50,
  });
  await tf.setBackend('cpu');
  const cpu = runProbe(weights);
  await tf.setBackend('wasm');
  const start = tf.memory().numTensors;
  const wasm = runProbe(weights);
  runProbe(weights);
  assert.equal(tf.memory().numTensors, start, 'no tensors leak across steps');
  assert.ok(Math.abs(wasm.loss - cpu.loss) <= 1e-4 * Math.abs(cpu.loss), `loss ${wasm.loss} vs ${cpu.loss}`);
  assert.equal(wasm.grads.size, cpu.grads.size);
  for (const [name, expected] of cpu.grads) {
    const actual = wasm.grads.get(name) as Float32Array;
    let scale = 0;
    for (const v of expected) scale = Math.max(scale, Math.abs(v));
    assert.ok(scale > 0, `${name}: gradient is all zero, the probe would test nothing`);
    for (let i = 0; i < expected.length; i++) {
      assert.ok(
        Math.abs(actual[i] - expected[i]) <= 1e-4 * scale,
        `${name}[${i}]: ${actual[i]} vs ${expected[i]}`,
      );
    }
  }
});
