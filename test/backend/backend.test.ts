import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { BackendError, initBackend, wasmBinaryDir } from '../../src/index.js';

test('wasm binaries come from the installed package', () => {
  const dir = wasmBinaryDir();
  assert.ok(existsSync(path.join(dir, 'tfjs-backend-wasm-simd.wasm')), dir);
});

test('a forced backend that cannot load is a clear error, not a fallback', async () => {
  await assert.rejects(initBackend({ backend: 'tensorflow' }), (e: unknown) => {
    assert.ok(e instanceof BackendError);
    assert.match(e.message, /backend 'tensorflow' was requested but cannot be loaded.*tfjs-node/);
    return true;
  });
});

test('an unknown backend name is rejected with the expected names', async () => {
  await assert.rejects(initBackend({ backend: 'metal' as never }), /unknown backend 'metal'.*wasm, cpu/);
});

test('DENSE_RETRIEVAL_BACKEND forces cpu', async () => {
  process.env.DENSE_RETRIEVAL_BACKEND = 'cpu';
  try {
    assert.equal(await initBackend(), 'cpu');
    assert.equal(tf.getBackend(), 'cpu');
  } finally {
    delete process.env.DENSE_RETRIEVAL_BACKEND;
  }
});

test('auto selection falls through the missing node backends to wasm', async () => {
  assert.equal(await initBackend(), 'wasm');
  assert.equal(tf.getBackend(), 'wasm');
  const x = tf.tensor2d([
    [1, 2],
    [3, 4],
  ]);
  const y = tf.matMul(x, x);
  assert.deepEqual(Array.from(y.dataSync()), [7, 10, 15, 22]);
  tf.dispose([x, y]);
});
