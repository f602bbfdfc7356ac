import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { CachedInBatchNegativesLoss } from '../../src/losses/cached-in-batch-negatives.js';
import { InBatchNegativesLoss } from '../../src/losses/in-batch-negatives.js';
import type { TrainingBatch } from '../../src/losses/types.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';
import { ToyEncoder } from './toy-encoder.js';

before(async () => {
  await initBackend();
});

const WORDS =
  'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma'.split(' ');

function makeBatch(b: number, k: number, seed: number): TrainingBatch {
  const word = (i: number) => WORDS[(i * 7 + seed) % WORDS.length];
  const queries = Array.from({ length: b }, (_, i) => `q${i} ${word(i)} ${word(i + 3)}`);
  const positives = Array.from({ length: b }, (_, i) => `${word(i)} ${word(i + 3)} doc${i}`);
  const negatives = Array.from({ length: b }, (_, i) =>
    Array.from({ length: k }, (_, j) => `${word(i + j + 5)} neg${i}-${j}`),
  );
  return { queries, positives, negatives: k > 0 ? negatives : undefined };
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

for (const setup of [
  {
    name: 'tied, dot, B=6 k=1, mini-batch 4 (uneven chunks)',
    tied: true,
    b: 6,
    k: 1,
    mb: 4,
    similarity: 'dot' as const,
    symmetric: false,
  },
  {
    name: 'untied, cosine, symmetric, B=5 k=0, mini-batch 2',
    tied: false,
    b: 5,
    k: 0,
    mb: 2,
    similarity: 'cosine' as const,
    symmetric: true,
  },
]) {
  test(`gradient cache gives the same loss and gradients as the plain loss: ${setup.name}`, () => {
    const q = new ToyEncoder({ seed: 3 });
    const p = setup.tied ? q : new ToyEncoder({ seed: 11 });
    const batch = makeBatch(setup.b, setup.k, 1);
    // A duplicate: query 0's positive is also query 1's first hard negative (or its positive when k = 0).
    if (batch.negatives) batch.negatives[1][0] = batch.positives[0];
    else batch.positives[1] = batch.positives[0];
    const plain = new InBatchNegativesLoss({ similarity: setup.similarity, symmetric: setup.symmetric });
    const cached = new CachedInBatchNegativesLoss({
      miniBatchSize: setup.mb,
      similarity: setup.similarity,
      symmetric: setup.symmetric,
    });
    const a = plain.computeGradients(q, p, batch);
    q.embedCalls = 0;
    const before = tf.memory().numTensors;
    const c = cached.computeGradients(q, p, batch);
    const chunks = Math.ceil(setup.b / setup.mb) + Math.ceil((setup.b * (1 + setup.k)) / setup.mb);
    assert.equal(q.embedCalls + (setup.tied ? 0 : p.embedCalls - 1), 2 * chunks, 'embeds each chunk twice');
    assert.equal(tf.memory().numTensors - before, c.grads.size, 'only the gradients remain');
    assert.ok(Math.abs(a.loss - c.loss) <= 1e-5, `loss ${a.loss} vs ${c.loss}`);
    assert.equal(c.grads.size, a.grads.size);
    assert.equal(a.grads.size, setup.tied ? 4 : 8);
    for (const [variable, g] of a.grads) {
      const d = maxAbsDiff(g, c.grads.get(variable)!);
      assert.ok(d <= 1e-5, `${variable.name}: max abs diff ${d}`);
    }
    tf.dispose([...a.grads.values(), ...c.grads.values()]);
    q.dispose();
    if (!setup.tied) p.dispose();
  });
}

async function peakBytes(
  loss: InBatchNegativesLoss | CachedInBatchNegativesLoss,
  enc: ToyEncoder,
  b: number,
) {
  const batch = makeBatch(b, 0, 2);
  let grads: tf.Tensor[] = [];
  const info = await tf.profile(() => {
    grads = [...loss.computeGradients(enc, enc, batch).grads.values()];
  });
  tf.dispose(grads);
  return info.peakBytes;
}

test('peak tensor memory stays flat as the batch grows with the gradient cache', async () => {
  // Wide hidden layer: per-text activations dominate, as in a transformer.
  const enc = new ToyEncoder({ hidden: 2048, dim: 16, seed: 5 });
  const cached = new CachedInBatchNegativesLoss({ miniBatchSize: 4 });
  const plain = new InBatchNegativesLoss();
  const c8 = await peakBytes(cached, enc, 8);
  const c32 = await peakBytes(cached, enc, 32);
  const p8 = await peakBytes(plain, enc, 8);
  const p32 = await peakBytes(plain, enc, 32);
  // What must grow with B: embeddings [2B, 16], their gradients and the [B, B] logits, a few times over.
  const allowance = 8 * 4 * (2 * 32 * 16 + 32 * 32);
  assert.ok(c32 - c8 <= allowance, `cached peak grew ${c32 - c8} bytes (8 -> 32), allowance ${allowance}`);
  assert.ok(
    p32 - p8 > 10 * (c32 - c8),
    `plain grew ${p32 - p8} bytes, cached ${c32 - c8}: the probe measures`,
  );
  enc.dispose();
});

test('miniBatchSize is validated', () => {
  assert.throws(
    () => new CachedInBatchNegativesLoss({ miniBatchSize: 0 }),
    (e: unknown) =>
      e instanceof ArgumentError && e.message === 'miniBatchSize: must be an integer >= 1, got 0',
  );
  const enc = new ToyEncoder();
  assert.throws(
    () =>
      new CachedInBatchNegativesLoss({ miniBatchSize: 2 }).computeGradients(enc, enc, {
        queries: ['a'],
        positives: ['b'],
      }),
    /batch: a batch of 1 query without hard negatives has no negatives at all/,
  );
  enc.dispose();
});

test('gradient cache equivalence on a tiny BERT (untied, cosine, hard negatives), and seeded dropout', async () => {
  const dir = tmpDir();
  const config = tinyConfig(dir);
  const q = await SentenceEncoder.fromScratch(config, undefined, { seed: 1 });
  const p = await SentenceEncoder.fromScratch(config, undefined, { seed: 2 });
  const batch = makeBatch(5, 1, 4);
  const options = { similarity: 'cosine' as const };
  const a = new InBatchNegativesLoss(options).computeGradients(q, p, batch);
  const c = new CachedInBatchNegativesLoss({ ...options, miniBatchSize: 2 }).computeGradients(q, p, batch);
  assert.ok(Math.abs(a.loss - c.loss) <= 1e-5, `loss ${a.loss} vs ${c.loss}`);
  assert.equal(c.grads.size, q.trainableVariables().length + p.trainableVariables().length);
  // 1e-5 absolute, relative for gradients larger than 1: token_type_embeddings' gradient (~9 here) sums
  // every token of the batch, and chunked float32 sums round differently (1e-5 to 1.5e-5 absolute, ~2e-6
  // relative, on both wasm and cpu). Every other variable is within 1e-5 absolute.
  for (const [variable, g] of a.grads) {
    const d = maxAbsDiff(g, c.grads.get(variable)!);
    const scale = Math.max(
      1,
      tf.tidy(() => tf.max(tf.abs(g)).dataSync()[0]),
    );
    assert.ok(d <= 1e-5 * scale, `${variable.name}: max abs gradient difference ${d} (max |g| ${scale})`);
  }
  tf.dispose([...a.grads.values(), ...c.grads.values()]);
  q.dispose();
  p.dispose();

  // With dropout, the same seed gives the same loss and another seed another one.
  const d = await SentenceEncoder.fromScratch(tinyConfig(dir, 0.3), undefined, { seed: 1 });
  const loss = new CachedInBatchNegativesLoss({ miniBatchSize: 3 });
  const run = (dropoutSeed: number) => {
    const r = loss.computeGradients(d, d, batch, { dropoutSeed });
    tf.dispose([...r.grads.values()]);
    return r.loss;
  };
  assert.equal(run(1), run(1));
  assert.notEqual(run(1), run(2));
  d.dispose();
});

test('issue 12: the cached loss masks a same-text passage under another id, as the plain loss does', () => {
  const enc = new ToyEncoder({ seed: 5 });
  const batch = {
    queries: ['red apple', 'blue sky'],
    positives: ['apple', 'sky'],
    negatives: [['sky'], ['tree']],
  };
  const cached = new CachedInBatchNegativesLoss({ miniBatchSize: 1 });
  const byId = cached.computeGradients(enc, enc, { ...batch, passageIds: ['d1', 'd2', 'd2', 'd3'] });
  const byText = cached.computeGradients(enc, enc, { ...batch, passageIds: ['d1', 'd2', 'd9', 'd3'] });
  const plain = new InBatchNegativesLoss().computeGradients(enc, enc, {
    ...batch,
    passageIds: ['d1', 'd2', 'd9', 'd3'],
  });
  assert.ok(Math.abs(byText.loss - byId.loss) <= 1e-6, `${byText.loss} vs ${byId.loss}`);
  assert.ok(Math.abs(byText.loss - plain.loss) <= 1e-5, `${byText.loss} vs ${plain.loss}`);
  tf.dispose([...byId.grads.values(), ...byText.grads.values(), ...plain.grads.values()]);
  enc.dispose();
});
