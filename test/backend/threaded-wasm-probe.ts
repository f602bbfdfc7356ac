/**
 * Child-process probe of threaded-wasm.test.ts: initialise the wasm backend with the thread count of
 * `$DENSE_RETRIEVAL_WASM_THREADS`, run a BERT forward and backward pass with dropout and print, as one JSON
 * line, the thread count and a SHA-256 of the exact bytes of the output and every gradient. The process
 * must then exit on its own (the pool's workers must not keep Node alive).
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/index.js';
import { wasmThreadCount } from '../../src/backend/threaded-wasm.js';
import { BertModel, parseBertConfig } from '../../src/models/architectures/bert.js';

// PROBE_TMPDIR (set after every module is loaded: tsx itself caches in the temp dir) points the temp dir,
// where the threaded build's worker script goes, somewhere unwritable.
if (process.env.PROBE_TMPDIR !== undefined) process.env.TMPDIR = process.env.PROBE_TMPDIR;
const backend = await initBackend({ backend: 'wasm' });
const threads = await wasmThreadCount();
const config = parseBertConfig({
  model_type: 'bert',
  vocab_size: 300,
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 256,
});
const bert = BertModel.random(config, 7);
const [batch, seq] = [6, 40];
const inputIds = tf.tensor2d(
  Int32Array.from({ length: batch * seq }, (_, i) => 1 + ((i * 7919) % 299)),
  [batch, seq],
  'int32',
);
const attentionMask = tf.tensor2d(
  Int32Array.from({ length: batch * seq }, (_, i) => (i % seq < seq - (i % 5) ? 1 : 0)),
  [batch, seq],
  'int32',
);
const tokenTypeIds = tf.zerosLike(inputIds) as tf.Tensor2D;
const hash = createHash('sha256');
const vars = bert.variables();
const { value, grads } = tf.variableGrads(() => {
  const hidden = bert.forward({ inputIds, attentionMask, tokenTypeIds }, { training: true, dropoutSeed: 3 });
  hash.update(new Uint8Array(hidden.dataSync().buffer));
  return tf.sum(tf.square(hidden)) as tf.Scalar;
}, [...vars.values()]);
hash.update(new Uint8Array(value.dataSync().buffer));
for (const name of [...vars.keys()].sort()) {
  hash.update(new Uint8Array(grads[vars.get(name)!.name].dataSync().buffer));
}
console.log(JSON.stringify({ backend, threads, digest: hash.digest('hex'), loss: value.dataSync()[0] }));
