import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readSafetensors } from '../../src/checkpoint/safetensors.js';
import { BertModel, parseBertConfig } from '../../src/models/architectures/bert.js';
import { BUNDLED_TOKENIZERS } from '../../src/tokenize/tokenizer.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

/** Shared access to test/fixtures/bert (made by scripts/make_bert_fixtures.py). */

export const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'bert');
export const TINY = path.join(FIXTURES, 'tiny');
export const E2E = path.join(FIXTURES, 'e2e');

export type Pooled = Record<string, number[][]>;

export interface TinyReference {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  hidden_first3: number[][][];
  pooled: Pooled;
  pooled_f16: Pooled;
  pooled_bf16: Pooled;
  mean_unpadded_row1: number[];
}

export interface E2eReference {
  texts: string[];
  max_seq_length: number;
  input_ids: number[][];
  pooled: Pooled;
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

export const tinyReference = (): TinyReference => readJson(path.join(TINY, 'reference.json'));
export const e2eReference = (): E2eReference => readJson(path.join(E2E, 'reference.json'));

/** Load the tiny fixture model from one of its safetensors files. */
export async function loadTiny(file = 'model.safetensors'): Promise<BertModel> {
  const config = parseBertConfig(readJson(path.join(TINY, 'config.json')));
  const raw = await readSafetensors(path.join(TINY, file));
  const weights = new Map<string, tf.Tensor>();
  for (const [name, t] of raw) weights.set(name, tf.tensor(t.data, t.shape, 'float32'));
  try {
    return BertModel.fromWeights(config, weights);
  } finally {
    for (const t of weights.values()) t.dispose();
  }
}

/** Largest absolute difference between two equally shaped nested arrays. */
export function maxAbsDiff(a: ArrayLike<number> | number[][], b: ArrayLike<number> | number[][]): number {
  const fa = (Array.isArray(a) ? (a as unknown[]).flat(2) : Array.from(a)) as number[];
  const fb = (Array.isArray(b) ? (b as unknown[]).flat(2) : Array.from(b)) as number[];
  if (fa.length !== fb.length) throw new Error(`length ${fa.length} != ${fb.length}`);
  let m = 0;
  for (let i = 0; i < fa.length; i++) m = Math.max(m, Math.abs(fa[i] - fb[i]));
  return m;
}

/**
 * A complete model directory: the e2e fixture plus the bundled bert-base-uncased tokenizer (not stored in
 * the fixture to keep it small), in a fresh temporary directory the test may modify.
 */
export function e2eModelDir(): string {
  const dir = path.join(tmpDir('dr-bert-'), 'model');
  cpSync(E2E, dir, { recursive: true });
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    cpSync(path.join(BUNDLED_TOKENIZERS.bertBaseUncased, f), path.join(dir, f));
  }
  return dir;
}

/** Rows of a matrix as nested arrays. */
export function matrixRows(m: { data: Float32Array; rows: number; cols: number }): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < m.rows; r++) out.push(Array.from(m.data.subarray(r * m.cols, (r + 1) * m.cols)));
  return out;
}
