import { initBackend } from './src/backend/index.js';
import * as tf from '@tensorflow/tfjs';
await initBackend({ backend: 'wasm' });
const d = 384, m = 1000;
for (const b of [1024, 4096]) {
  const docs = new Float32Array(100000 * d).map(() => Math.random());
  const qT = tf.tensor2d(new Float32Array(d * m).map(() => Math.random()), [d, m]);
  let t0 = performance.now();
  for (let b0 = 0; b0 < 100000; b0 += b) {
    const b1 = Math.min(100000, b0 + b);
    const r = tf.tidy(() => tf.matMul(tf.tensor2d(docs.subarray(b0 * d, b1 * d), [b1 - b0, d]), qT));
    r.dataSync(); r.dispose();
  }
  console.log(b, 'matmul+sync s', ((performance.now() - t0) / 1000).toFixed(2));
  t0 = performance.now();
  const x = tf.tensor2d(docs.subarray(0, 4096 * d), [4096, d]);
  for (let i = 0; i < 25; i++) { const r = tf.matMul(x, qT); r.dispose(); }
  tf.matMul(x,qT).dataSync();
  console.log(b, 'pure matmul 25x4096 s', ((performance.now() - t0) / 1000).toFixed(2));
}
