/**
 * Peak wasm-heap memory of one plain training step (docs/training.md, "Memory on the wasm backend"): a tied
 * bi-encoder of any architecture (`--arch`, default bert), `InBatchNegativesLoss` over `--batch` queries and as many positives of `--seq` random
 * tokens, then clipping and an AdamW update, as benchmarks/lib/train.ts builds the step. Every `malloc` and
 * `free` the backend makes on the wasm heap is tracked, so the printed peak is the true peak of live bytes
 * (tf.profile counts a shared-memory clone twice); `heap` is the module's high-water size. One process per
 * measurement: a step that does not fit ends the wasm module.
 *
 *   npx tsx benchmarks/train-memory.ts --batch 16 --seq 128            # MiniLM-L6 shape
 *   npx tsx benchmarks/train-memory.ts --batch 8 --layers 12 --hidden 768 --heads 12 --intermediate 3072
 *   npx tsx benchmarks/train-memory.ts --arch modernbert --batch 4 --layers 6 --hidden 384 --heads 6 --intermediate 576
 *
 * Prints one JSON line (with the estimate of src/train/memory.ts for comparison).
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/index.js';
import { InBatchNegativesLoss } from '../src/losses/in-batch-negatives.js';
import type { TrainableEncoder } from '../src/losses/types.js';
import { parseEncoderConfig, randomEncoder } from '../src/models/architectures/registry.js';
import { pool } from '../src/models/pooling.js';
import { AdamW, clipGradNorm } from '../src/optim/adamw.js';
import { estimateTrainingBytes } from '../src/train/memory.js';
import type { WasmModule } from '../src/backend/kernels/wasm-internals.js';

const { values: flags } = parseArgs({
  options: {
    batch: { type: 'string', default: '8' },
    seq: { type: 'string', default: '128' },
    layers: { type: 'string', default: '6' },
    hidden: { type: 'string', default: '384' },
    heads: { type: 'string', default: '12' },
    intermediate: { type: 'string', default: '1536' },
    // Any model_type of the registry; modernbert adds its own fields (local window, global every n layers).
    arch: { type: 'string', default: 'bert' },
    'local-attention': { type: 'string', default: '128' },
  },
});
const batch = Number(flags.batch);
const seq = Number(flags.seq);

await initBackend({ backend: 'wasm' });
// Emscripten swaps Module._malloc for the raw export on its first call: allocate once before wrapping it.
tf.zeros([1]).dispose();
const wasm = (tf.backend() as unknown as { wasm: WasmModule }).wasm;
const sizes = new Map<number, number>();
let live = 0;
let peak = 0;
const malloc = wasm._malloc.bind(wasm);
const free = wasm._free.bind(wasm);
// Pointers above 2 GiB come back negative; the backend stores them `>>> 0`.
wasm._malloc = (bytes: number): number => {
  const p = malloc(bytes) >>> 0;
  if (p === 0) throw new Error(`wasm malloc of ${bytes} bytes failed (heap exhausted)`);
  sizes.set(p, bytes);
  live += bytes;
  peak = Math.max(peak, live);
  return p;
};
wasm._free = (pointer: number): void => {
  const p = pointer >>> 0;
  const bytes = sizes.get(p);
  if (bytes !== undefined) {
    live -= bytes;
    sizes.delete(p);
  }
  free(pointer);
};

const config = parseEncoderConfig({
  model_type: flags.arch,
  hidden_size: Number(flags.hidden),
  num_hidden_layers: Number(flags.layers),
  num_attention_heads: Number(flags.heads),
  intermediate_size: Number(flags.intermediate),
  max_position_embeddings: Math.max(512, seq),
  vocab_size: 30522,
  pad_token_id: 0,
  ...(flags.arch === 'modernbert' ? { local_attention: Number(flags['local-attention']) } : {}),
});
const bert = randomEncoder(config, 0);
let state = 1;
const randomId = (): number => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
  return 1000 + (state % 29000);
};
const rows = new Map<string, Int32Array>();
const queries: string[] = [];
const positives: string[] = [];
for (let i = 0; i < batch; i++) {
  queries.push(`q${i}`);
  positives.push(`p${i}`);
  rows.set(`q${i}`, Int32Array.from({ length: seq }, randomId));
  rows.set(`p${i}`, Int32Array.from({ length: seq }, randomId));
}
// Pre-tokenized rows (as benchmarks/lib/train.ts): the guard does not size this encoder, so the step runs.
const encoder: TrainableEncoder = {
  embed(texts, options = {}) {
    const ids = new Int32Array(texts.length * seq);
    texts.forEach((t, i) => ids.set(rows.get(t)!, i * seq));
    const shape: [number, number] = [texts.length, seq];
    return tf.tidy(() => {
      const attentionMask = tf.ones(shape, 'int32') as tf.Tensor2D;
      const inputIds = tf.tensor2d(ids, shape, 'int32');
      const tokenTypeIds = tf.zeros(shape, 'int32') as tf.Tensor2D;
      return pool(bert.forward({ inputIds, attentionMask, tokenTypeIds }, options), attentionMask, 'mean');
    });
  },
  trainableVariables: () => [...bert.variables().values()],
};
const optimizer = new AdamW({ weightDecay: 0.01 });
const estimate = estimateTrainingBytes(config, [
  { sequences: batch, seqLen: seq },
  { sequences: batch, seqLen: seq },
]);
const t0 = performance.now();
try {
  const { grads } = new InBatchNegativesLoss().computeGradients(
    encoder,
    encoder,
    { queries, positives },
    { dropoutSeed: 1 },
  );
  clipGradNorm(grads, 1);
  optimizer.applyGradients(grads, 2e-5);
  for (const g of grads.values()) g.dispose();
  console.log(
    JSON.stringify({
      ok: true,
      batch,
      seq,
      tokens: 2 * batch * seq,
      peakLiveMB: +(peak / 1e6).toFixed(1),
      estimateMB: +(estimate / 1e6).toFixed(1),
      heapMB: +(wasm.HEAPU8.length / 1e6).toFixed(1),
      seconds: +((performance.now() - t0) / 1000).toFixed(1),
    }),
  );
} catch (error) {
  console.log(JSON.stringify({ ok: false, batch, seq, error: String(error), peakLiveMB: peak / 1e6 }));
  process.exitCode = 1;
}
