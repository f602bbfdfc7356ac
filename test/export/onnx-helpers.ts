import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { writeSafetensors } from '../../src/checkpoint/safetensors.js';
import { DenseModule } from '../../src/models/modules/dense.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import type { EncodedBatch } from '../../src/tokenize/tokenizer.js';
import { e2eModelDir } from '../models/bert-fixture.js';
import { ARCH_FIXTURES, archDir } from '../models/architectures/fixtures.js';
import { tmpDir } from '../helpers/tmp.js';

/** Shared pieces of the ONNX export tests: fixture encoders, Dense modules, running a session. */

/** Every architecture with a checkpoint fixture: BERT (the e2e fixture) and those of make_architecture_fixtures.py. */
export const EXPORT_FIXTURES = ['bert', ...ARCH_FIXTURES] as const;

/**
 * Session options of the tests: every graph optimization on (the exported graph must pass onnxruntime's
 * optimizer), one intra-op thread (the runner runs two test files at once on two cores).
 */
export const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = {
  graphOptimizationLevel: 'all',
  intraOpNumThreads: 1,
};

/** Texts of mixed lengths (padded batches); the long one exceeds the ModernBERT fixture's 4-token window. */
export const TEXTS = [
  'dense retrieval maps queries and passages to vectors.',
  'a short query',
  'BM25 is a sparse baseline; dense models are trained on pairs of queries and relevant passages.',
  'x',
  'vectors of sentences',
];

/** The fixture model directory of `arch` (BERT's e2e fixture gets the bundled tokenizer). */
export function fixtureDir(arch: string): string {
  return arch === 'bert' ? e2eModelDir() : archDir(arch);
}

export async function loadFixture(arch: string): Promise<SentenceEncoder> {
  return SentenceEncoder.load(fixtureDir(arch), { quiet: true });
}

/** A tiny deterministic generator in [-0.5, 0.5). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

/** A Dense module folder `[inF] -> [outF]` with seeded weights, loaded. */
export async function makeDense(
  inF: number,
  outF: number,
  activation: string,
  bias: boolean,
  seed: number,
): Promise<DenseModule> {
  const dir = path.join(tmpDir('dr-onnx-dense-'), 'dense');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ in_features: inF, out_features: outF, bias, activation_function: activation }),
  );
  const tensors = new Map([['linear.weight', { shape: [outF, inF], data: values(outF * inF, seed) }]]);
  if (bias) tensors.set('linear.bias', { shape: [outF], data: values(outF, seed + 1) });
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  return DenseModule.load(dir);
}

export interface OnnxOutputs {
  hidden: Float32Array;
  sentence: Float32Array;
  dims: readonly number[];
}

/** The int64 inputs `session` declares, from a token batch. */
export function feedsFor(session: ort.InferenceSession, batch: EncodedBatch): Record<string, ort.Tensor> {
  const shape = [batch.batchSize, batch.seqLen];
  const int64 = (a: Int32Array): ort.Tensor => new ort.Tensor('int64', BigInt64Array.from(a, BigInt), shape);
  const all: Record<string, ort.Tensor> = {
    input_ids: int64(batch.inputIds),
    attention_mask: int64(batch.attentionMask),
    token_type_ids: int64(batch.tokenTypeIds),
  };
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) feeds[name] = all[name];
  return feeds;
}

/** Run `session` on `texts` tokenized by `encoder` (padded to the longest), feeding the inputs it declares. */
export async function runOnnx(
  session: ort.InferenceSession,
  encoder: SentenceEncoder,
  texts: string[],
): Promise<OnnxOutputs> {
  const batch = encoder.tokenizer.encodeBatch(texts, { maxLength: encoder.maxSeqLength });
  const out = await session.run(feedsFor(session, batch));
  return {
    hidden: out.last_hidden_state.data as Float32Array,
    sentence: out.sentence_embedding.data as Float32Array,
    dims: out.sentence_embedding.dims,
  };
}

/** Largest absolute difference of two equally long arrays. */
export function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export { ort };
