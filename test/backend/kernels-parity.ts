/**
 * Helpers for the wasm-kernel parity tests: run the same tfjs computation on the cpu backend (the
 * reference) and on wasm (with our kernels), and compare.
 */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';

export interface Outputs {
  shape: number[];
  values: Float32Array | Int32Array;
}

async function runOn(backend: string, f: () => tf.Tensor): Promise<Outputs> {
  await tf.setBackend(backend);
  const before = tf.memory().numTensors;
  const t = f();
  const out = { shape: t.shape, values: t.dataSync() as Float32Array | Int32Array };
  t.dispose();
  assert.equal(tf.memory().numTensors, before, `tensors leaked on ${backend}`);
  return out;
}

/** Run `f` on cpu then on wasm (ending on wasm); both results, with a leak check on each. */
export async function onBoth(f: () => tf.Tensor): Promise<{ cpu: Outputs; wasm: Outputs }> {
  const cpu = await runOn('cpu', f);
  const wasm = await runOn('wasm', f);
  return { cpu, wasm };
}

/** Assert equal shapes and values within `rtol` of the largest reference magnitude. */
export function assertClose(actual: Outputs, expected: Outputs, rtol = 1e-4, what = ''): void {
  assert.deepEqual(actual.shape, expected.shape, `${what} shape`);
  assert.equal(actual.values.length, expected.values.length);
  let scale = 0;
  for (const v of expected.values) scale = Math.max(scale, Math.abs(v));
  const tol = rtol * Math.max(scale, 1e-6);
  for (let i = 0; i < expected.values.length; i++) {
    const d = Math.abs(actual.values[i] - expected.values[i]);
    if (!(d <= tol)) {
      assert.fail(`${what} element ${i}: ${actual.values[i]} vs ${expected.values[i]} (tolerance ${tol})`);
    }
  }
}

/** Deterministic values in [-1, 1) (a plain LCG: reproducible across backends and runs). */
export function values(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2147483648 - 1;
  }
  return out;
}

export function randomTensor(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(
    values(
      shape.reduce((p, d) => p * d, 1),
      seed,
    ),
    shape,
  );
}
