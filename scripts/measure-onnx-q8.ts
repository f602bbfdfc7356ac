/**
 * The accuracy cost of `exportOnnx(..., { quantize: 'q8' })`, reported in docs/deploy.md. Run by hand:
 *
 *   npx tsx scripts/measure-onnx-q8.ts [BEIR_DIR] [MODEL]
 *
 * 1. Embedding error on a MiniLM-L6-shaped BERT (6 layers, 384 wide, random init, mean pooling, normalized):
 *    max abs diff and minimum cosine between the fp32 and q8 sentence embeddings of 64 passages (256 tokens).
 * 2. Retrieval: nDCG@10 (exact search, cosine similarity) on the BEIR
 *    dataset's test split (default ../shared/data/scifact) with MODEL (a model directory with its own
 *    settings, or by default `scratch:tiny`, seed 1, mean + normalize, 128 tokens) through its fp32 and q8
 *    exports. Both run on onnxruntime-node with one intra-op thread.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { initBackend } from '../src/backend/index.js';
import { loadBeir } from '../src/data/beir.js';
import { ndcgAt } from '../src/eval/metrics.js';
import { buildOnnxModel } from '../src/export/onnx-model.js';
import { loadModel } from '../src/models/load.js';
import type { SentenceEncoder } from '../src/models/sentence-encoder.js';
import { passageText } from '../src/train/examples.js';

await initBackend();

async function embed(
  session: ort.InferenceSession,
  encoder: SentenceEncoder,
  texts: string[],
): Promise<Float32Array> {
  const dim = encoder.dim;
  const out = new Float32Array(texts.length * dim);
  const lengths = texts.map((t) => encoder.tokenizer.tokenLength(t, { maxLength: encoder.maxSeqLength }));
  const order = texts.map((_, i) => i).sort((a, b) => lengths[b] - lengths[a]);
  for (let s = 0; s < order.length; s += 32) {
    const idx = order.slice(s, s + 32);
    const batch = encoder.tokenizer.encodeBatch(
      idx.map((i) => texts[i]),
      { maxLength: encoder.maxSeqLength },
    );
    const shape = [batch.batchSize, batch.seqLen];
    const int64 = (a: Int32Array): ort.Tensor =>
      new ort.Tensor('int64', BigInt64Array.from(a, BigInt), shape);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: int64(batch.inputIds),
      attention_mask: int64(batch.attentionMask),
    };
    if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = int64(batch.tokenTypeIds);
    const r = await session.run(feeds, ['sentence_embedding']);
    const data = r.sentence_embedding.data as Float32Array;
    idx.forEach((row, j) => out.set(data.subarray(j * dim, (j + 1) * dim), row * dim));
  }
  return out;
}

const sessionOf = (encoder: SentenceEncoder, q8: boolean): Promise<ort.InferenceSession> =>
  ort.InferenceSession.create(buildOnnxModel(encoder, q8 ? { quantize: 'q8' } : {}), {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 1,
  });

/** Max abs diff of the raw embeddings, and the minimum cosine between matching rows. */
function compare(a: Float32Array, b: Float32Array, dim: number): { maxAbs: number; minCos: number } {
  let maxAbs = 0;
  let minCos = 1;
  for (let r = 0; r < a.length / dim; r++) {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let j = 0; j < dim; j++) {
      const i = r * dim + j;
      maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
      dot += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    minCos = Math.min(minCos, dot / Math.sqrt(na * nb));
  }
  return { maxAbs, minCos };
}

/** Rows scaled to unit length (cosine scoring, what the demo's models are trained for). */
function unitRows(m: Float32Array, dim: number): Float32Array {
  const out = m.slice();
  for (let o = 0; o < out.length; o += dim) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += out[o + j] * out[o + j];
    const scale = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < dim; j++) out[o + j] *= scale;
  }
  return out;
}

const beirDir = process.argv[2] ?? path.resolve(import.meta.dirname, '..', '..', 'shared', 'data', 'scifact');
const { corpus, queries, qrels } = await loadBeir(beirDir, { split: 'test' });
const passages = corpus.map(passageText);

// 1. MiniLM-L6 shape.
const tmp = mkdtempSync(path.join(os.tmpdir(), 'dr-q8-'));
const config = path.join(tmp, 'config.json');
writeFileSync(
  config,
  JSON.stringify({
    model_type: 'bert',
    hidden_size: 384,
    num_hidden_layers: 6,
    num_attention_heads: 12,
    intermediate_size: 1536,
    vocab_size: 30522,
    max_position_embeddings: 512,
  }),
);
const minilm = await loadModel(`scratch:${config}`, {
  quiet: true,
  seed: 1,
  pooling: 'mean',
  normalize: true,
  maxSeqLength: 256,
});
rmSync(tmp, { recursive: true, force: true });
const sample = passages.slice(0, 64);
const a = await embed(await sessionOf(minilm, false), minilm, sample);
const b = await embed(await sessionOf(minilm, true), minilm, sample);
const shape = compare(a, b, minilm.dim);
console.log(
  `MiniLM-L6 shape, 64 passages at 256 tokens: max abs diff ${shape.maxAbs.toFixed(4)}, min cosine ${shape.minCos.toFixed(5)}`,
);
console.log(
  `  model.onnx ${(buildOnnxModel(minilm).byteLength / 2 ** 20).toFixed(1)} MiB, model_quantized.onnx ${(buildOnnxModel(minilm, { quantize: 'q8' }).byteLength / 2 ** 20).toFixed(1)} MiB`,
);
minilm.dispose();

// 2. Retrieval.
const source = process.argv[3] ?? 'scratch:tiny';
// A random model gets the settings above; a trained one keeps its own (pooling, normalize, max_seq_length).
const encoder = await loadModel(
  source,
  source.startsWith('scratch:')
    ? { quiet: true, seed: 1, pooling: 'mean', normalize: true, maxSeqLength: 128 }
    : { quiet: true },
);
const qids = [...queries.keys()];
const qtexts = qids.map((q) => queries.get(q)!);
const results: Record<string, number> = {};
const vectors: Record<string, Float32Array> = {};
for (const variant of ['fp32', 'q8']) {
  const session = await sessionOf(encoder, variant === 'q8');
  const raw = await embed(session, encoder, passages);
  vectors[variant] = raw;
  const docs = unitRows(raw, encoder.dim);
  const qs = unitRows(await embed(session, encoder, qtexts), encoder.dim);
  const dim = encoder.dim;
  let sum = 0;
  qids.forEach((qid, qi) => {
    const scores = corpus.map((_, d) => {
      let s = 0;
      for (let j = 0; j < dim; j++) s += qs[qi * dim + j] * docs[d * dim + j];
      return s;
    });
    const ranking = corpus
      .map((doc, d) => ({ id: doc.id, s: scores[d] }))
      .sort((x, y) => y.s - x.s || (x.id < y.id ? -1 : 1))
      .slice(0, 10)
      .map((x) => x.id);
    sum += ndcgAt(ranking, qrels.get(qid)!, 10);
  });
  results[variant] = sum / qids.length;
}
const corpusError = compare(vectors.fp32, vectors.q8, encoder.dim);
console.log(
  `${source} on ${path.basename(beirDir)} test (${qids.length} queries, ${corpus.length} docs): nDCG@10 fp32 ${results.fp32.toFixed(4)}, q8 ${results.q8.toFixed(4)}, ` +
    `difference ${(results.q8 - results.fp32).toFixed(4)}; corpus embeddings max abs diff ${corpusError.maxAbs.toFixed(4)}, min cosine ${corpusError.minCos.toFixed(5)}`,
);
encoder.dispose();
