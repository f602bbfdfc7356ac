import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { EmbeddingLoss, LossContext, RetrievalLoss, TrainingBatch } from '../../src/losses/types.js';
import { REPO_ROOT } from '../helpers/cli.js';
import type { ToyEncoder } from './toy-encoder.js';

/** One case of test/fixtures/losses/losses.json (scripts/make_loss_fixtures.py). */
export interface LossCase {
  name: string;
  kind: string;
  b: number;
  k: number;
  q: number[][];
  p: number[][];
  loss: number;
  dq: number[][];
  dp: number[][];
  scores?: number[][];
  gq?: number[][];
  gp?: number[][];
  [option: string]: unknown;
}

const FILE = path.join(REPO_ROOT, 'test', 'fixtures', 'losses', 'losses.json');

/** The fixture cases of one loss kind. */
export function lossCases(kind: string): LossCase[] {
  const all = (JSON.parse(readFileSync(FILE, 'utf8')) as { cases: LossCase[] }).cases;
  const cases = all.filter((c) => c.kind === kind);
  assert.ok(cases.length > 0, `no ${kind} cases in ${FILE}`);
  return cases;
}

/** A batch of distinct texts in the fixture's layout (`q0`, `p0`, `n0_0`...), with its teacher scores. */
export function caseBatch(c: LossCase): TrainingBatch {
  const queries = Array.from({ length: c.b }, (_, i) => `q${i}`);
  const positives = Array.from({ length: c.b }, (_, i) => `p${i}`);
  const negatives =
    c.k === 0
      ? undefined
      : Array.from({ length: c.b }, (_, i) => Array.from({ length: c.k }, (_, j) => `n${i}_${j}`));
  return { queries, positives, negatives, ...(c.scores === undefined ? {} : { scores: c.scores }) };
}

function maxAbs(a: Float32Array | number[], b: number[]): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * The loss of the fixture embeddings and its gradients w.r.t. them match the PyTorch reference within
 * `tol` (absolute), and computing them leaves no tensor behind.
 */
export function checkParity(loss: EmbeddingLoss, c: LossCase, tol = 1e-5): void {
  const batch = caseBatch(c);
  const q = tf.tensor2d(c.q);
  const p = tf.tensor2d(c.p);
  const before = tf.memory().numTensors;
  const context: LossContext | undefined = loss.prepare?.(batch, {});
  const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) =>
    loss.lossFromEmbeddings(a as tf.Tensor2D, b as tf.Tensor2D, batch, context),
  )([q, p]);
  context?.dispose();
  const got = value.dataSync()[0];
  const dq = grads[0].dataSync() as Float32Array;
  const dp = grads[1].dataSync() as Float32Array;
  tf.dispose([value, ...grads]);
  assert.equal(tf.memory().numTensors, before, `${c.name}: tensors leaked`);
  q.dispose();
  p.dispose();
  // Values are compared relative to their size above 1 (float32 carries ~7 digits).
  assert.ok(
    Math.abs(got - c.loss) <= tol * Math.max(1, Math.abs(c.loss)),
    `${c.name}: loss ${got} vs ${c.loss}`,
  );
  const eq = maxAbs(dq, c.dq.flat());
  const ep = maxAbs(dp, c.dp.flat());
  assert.ok(eq <= tol, `${c.name}: dL/dq max abs diff ${eq}`);
  assert.ok(ep <= tol, `${c.name}: dL/dp max abs diff ${ep}`);
}

const WORDS =
  'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma'.split(' ');

/** A batch of `b` queries with `k` negatives each and (deterministic) teacher scores. */
export function toyBatch(b: number, k: number, seed: number): TrainingBatch {
  const word = (i: number) => WORDS[(i * 7 + seed) % WORDS.length];
  return {
    queries: Array.from({ length: b }, (_, i) => `q${i} ${word(i)} ${word(i + 3)}`),
    positives: Array.from({ length: b }, (_, i) => `${word(i)} ${word(i + 3)} doc${i}`),
    negatives:
      k === 0
        ? undefined
        : Array.from({ length: b }, (_, i) =>
            Array.from({ length: k }, (_, j) => `${word(i + j + 5)} neg${i}-${j}`),
          ),
    scores: Array.from({ length: b }, (_, i) =>
      Array.from({ length: 1 + k }, (_, j) => (j === 0 ? 5 + (i % 3) : ((i + 2 * j) % 5) - 1)),
    ),
  };
}

/**
 * The plain and the cached form of a loss give the same value and parameter gradients (1e-5, relative
 * above 1) on a toy
 * encoder, the cached one embeds each chunk exactly twice (one forward for every loss term), and only the
 * returned gradients stay allocated.
 */
export function checkPlainEqualsCached(
  plain: RetrievalLoss,
  cached: RetrievalLoss,
  enc: ToyEncoder,
  batch: TrainingBatch,
  miniBatchSize: number,
): void {
  const a = plain.computeGradients(enc, enc, batch);
  enc.embedCalls = 0;
  const before = tf.memory().numTensors;
  const c = cached.computeGradients(enc, enc, batch);
  const passages = batch.positives.length + (batch.negatives ?? []).flat().length;
  const chunks = Math.ceil(batch.queries.length / miniBatchSize) + Math.ceil(passages / miniBatchSize);
  assert.equal(enc.embedCalls, 2 * chunks, 'each chunk is embedded twice, once without and once with a tape');
  assert.equal(tf.memory().numTensors - before, c.grads.size, 'only the gradients remain');
  assert.ok(Math.abs(a.loss - c.loss) <= 1e-5 * Math.max(1, Math.abs(a.loss)), `loss ${a.loss} vs ${c.loss}`);
  assert.equal(c.grads.size, a.grads.size);
  for (const [variable, g] of a.grads) {
    const [d, size] = tf.tidy(() => [
      tf.max(tf.abs(tf.sub(g, c.grads.get(variable)!))).dataSync()[0],
      tf.max(tf.abs(g)).dataSync()[0],
    ]);
    // 1e-5 absolute, relative above 1: chunked float32 sums of large gradients round differently.
    assert.ok(
      d <= 1e-5 * Math.max(1, size),
      `${variable.name}: max abs gradient difference ${d} (max |g| ${size})`,
    );
  }
  tf.dispose([...a.grads.values(), ...c.grads.values()]);
}
