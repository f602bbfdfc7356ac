/**
 * A small BERT-shaped bi-encoder written with plain tfjs ops, used to find (and then check) the kernels a
 * forward+backward pass needs on wasm: embedding gather, dense layers, rank-4 attention products with a
 * transposed key, softmax, layer norm through moments, erf GELU, seeded dropout, an in-batch-negatives
 * loss. Shared by the kernel tests and `benchmarks/kernels.ts`; it is not the library's BERT.
 */
import * as tf from '@tensorflow/tfjs';

export interface ProbeConfig {
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  seqLen: number;
  batchSize: number;
  vocab: number;
}

/** Parameter values as plain arrays, so the same model can be built on any backend. */
export interface ProbeWeights {
  config: ProbeConfig;
  values: Map<string, { shape: number[]; data: Float32Array }>;
  ids: Int32Array;
}

/** Deterministic uniform values in [-scale, scale] (mulberry32), independent of any backend RNG. */
function seeded(seed: number, size: number, scale: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

export function makeProbeWeights(config: ProbeConfig, seed = 1): ProbeWeights {
  const { hidden: h, intermediate: f, vocab, seqLen, batchSize, layers } = config;
  const values = new Map<string, { shape: number[]; data: Float32Array }>();
  let n = seed;
  const add = (name: string, shape: number[], scale: number, offset = 0): void => {
    const data = seeded(
      n++ * 7919,
      shape.reduce((p, d) => p * d, 1),
      scale,
    );
    if (offset !== 0) for (let i = 0; i < data.length; i++) data[i] += offset;
    values.set(name, { shape, data });
  };
  add('emb', [vocab, h], 0.5);
  add('pos', [seqLen, h], 0.1);
  for (let l = 0; l < layers; l++) {
    for (const w of ['q', 'k', 'v', 'o']) add(`${l}.${w}`, [h, h], 1 / Math.sqrt(h));
    add(`${l}.ln1.g`, [h], 0.1, 1);
    add(`${l}.ln1.b`, [h], 0.1);
    add(`${l}.w1`, [h, f], 1 / Math.sqrt(h));
    add(`${l}.b1`, [f], 0.1);
    add(`${l}.w2`, [f, h], 1 / Math.sqrt(f));
    add(`${l}.ln2.g`, [h], 0.1, 1);
    add(`${l}.ln2.b`, [h], 0.1);
  }
  // Token ids with repeats and out-of-order use, so the embedding gradient sums several rows per id.
  const ids = new Int32Array(batchSize * seqLen);
  const raw = seeded(seed * 31, ids.length, 1);
  for (let i = 0; i < ids.length; i++) ids[i] = Math.floor(((raw[i] + 1) / 2) * vocab) % vocab;
  return { config, values, ids };
}

function layerNorm(x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-12))), g), b);
}

function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2))));
}

/** Loss of one forward pass (queries = first half of the batch, passages = second half). */
function probeLoss(w: ProbeWeights, p: Map<string, tf.Tensor>, ids: tf.Tensor1D): tf.Scalar {
  const { hidden: h, heads, seqLen: s, batchSize: bsz, layers } = w.config;
  const dh = h / heads;
  const get = (name: string): tf.Tensor => p.get(name) as tf.Tensor;
  const tokens = tf.gather(get('emb'), ids) as tf.Tensor2D;
  let x = tf.add(tokens, tf.tile(get('pos'), [bsz, 1])) as tf.Tensor2D;
  for (let l = 0; l < layers; l++) {
    const split = (t: tf.Tensor2D): tf.Tensor4D =>
      tf.transpose(tf.reshape(t, [bsz, s, heads, dh]), [0, 2, 1, 3]);
    const q = split(tf.matMul(x, get(`${l}.q`) as tf.Tensor2D));
    const k = split(tf.matMul(x, get(`${l}.k`) as tf.Tensor2D));
    const v = split(tf.matMul(x, get(`${l}.v`) as tf.Tensor2D));
    const probs = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)));
    const ctx = tf.reshape(tf.transpose(tf.matMul(probs, v), [0, 2, 1, 3]), [bsz * s, h]) as tf.Tensor2D;
    const attn = tf.dropout(
      tf.matMul(ctx, get(`${l}.o`) as tf.Tensor2D),
      0.1,
      undefined,
      17 + l,
    ) as tf.Tensor2D;
    x = layerNorm(tf.add(x, attn), get(`${l}.ln1.g`), get(`${l}.ln1.b`));
    const inner = gelu(tf.add(tf.matMul(x, get(`${l}.w1`) as tf.Tensor2D), get(`${l}.b1`))) as tf.Tensor2D;
    x = layerNorm(
      tf.add(x, tf.matMul(inner, get(`${l}.w2`) as tf.Tensor2D)),
      get(`${l}.ln2.g`),
      get(`${l}.ln2.b`),
    );
  }
  const cls = tf.reshape(tf.slice(tf.reshape(x, [bsz, s, h]), [0, 0, 0], [bsz, 1, h]), [bsz, h]);
  const half = bsz / 2;
  const queries = tf.slice(cls, [0, 0], [half, h]);
  const passages = tf.slice(cls, [half, 0], [half, h]);
  const scores = tf.matMul(queries, passages, false, true);
  const labels = tf.oneHot(tf.range(0, half, 1, 'int32'), half);
  return tf.neg(tf.mean(tf.sum(tf.mul(labels, tf.logSoftmax(scores)), -1))) as tf.Scalar;
}

export interface ProbeResult {
  loss: number;
  grads: Map<string, Float32Array>;
}

/** One forward+backward pass on the current backend; no tensors survive it. */
export function runProbe(w: ProbeWeights): ProbeResult {
  const names = [...w.values.keys()];
  const params = new Map<string, tf.Tensor>();
  for (const name of names) {
    const { shape, data } = w.values.get(name) as { shape: number[]; data: Float32Array };
    params.set(name, tf.tensor(data, shape));
  }
  const ids = tf.tensor1d(w.ids, 'int32');
  try {
    const f = (...xs: tf.Tensor[]): tf.Scalar => {
      const p = new Map(names.map((n, i) => [n, xs[i]] as const));
      return probeLoss(w, p, ids);
    };
    const { value, grads } = tf.valueAndGrads(f)(names.map((n) => params.get(n) as tf.Tensor));
    const out = new Map<string, Float32Array>();
    names.forEach((n, i) => out.set(n, grads[i].dataSync() as Float32Array));
    const loss = value.dataSync()[0];
    tf.dispose([value, ...grads]);
    return { loss, grads: out };
  } finally {
    tf.dispose([...params.values(), ids]);
  }
}
