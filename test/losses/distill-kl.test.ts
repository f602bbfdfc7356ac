import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { CachedLoss } from '../../src/losses/cached.js';
import { DistillKLDivLoss } from '../../src/losses/distill-kl.js';
import { checkParity, checkPlainEqualsCached, lossCases, toyBatch } from './loss-fixtures.js';
import { ToyEncoder } from './toy-encoder.js';

before(async () => {
  await initBackend();
});

for (const c of lossCases('distill-kl')) {
  test(`DistillKLDivLoss matches the PyTorch reference: ${c.name}`, () => {
    const loss = new DistillKLDivLoss({
      similarity: c.similarity as 'dot' | 'cosine',
      temperature: c.temperature as number,
    });
    checkParity(loss, c);
  });
}

test('DistillKLDivLoss plain and cached give the same value and gradients', () => {
  const enc = new ToyEncoder({ seed: 4 });
  const options = { temperature: 2, similarity: 'cosine' as const };
  checkPlainEqualsCached(
    new DistillKLDivLoss(options),
    new CachedLoss(new DistillKLDivLoss(options), { miniBatchSize: 2 }),
    enc,
    toyBatch(4, 3, 5),
    2,
  );
  enc.dispose();
});

test('DistillKLDivLoss is zero when the student scores are the teacher scores, positive otherwise', () => {
  // q = e0 and candidates = score * e0: the student's dot products are exactly the teacher's scores.
  const batch = { queries: ['q'], positives: ['p'], negatives: [['n1', 'n2']], scores: [[2, 1, -1]] };
  const loss = new DistillKLDivLoss({ temperature: 3 });
  const value = (rows: number[][]) =>
    tf.tidy(() => loss.lossFromEmbeddings(tf.tensor2d([[1, 0]]), tf.tensor2d(rows), batch).dataSync()[0]);
  assert.ok(
    Math.abs(
      value([
        [2, 0],
        [1, 0],
        [-1, 0],
      ]),
    ) < 1e-7,
  );
  assert.ok(
    value([
      [1, 0],
      [2, 0],
      [-1, 0],
    ]) > 0.01,
  );
});

test('DistillKLDivLoss validates temperature and needs scores and negatives', () => {
  for (const t of [0, -1, Number.NaN]) {
    assert.throws(
      () => new DistillKLDivLoss({ temperature: t }),
      (e: unknown) => e instanceof ArgumentError && e.argument === 'temperature',
    );
  }
  const enc = new ToyEncoder();
  const { scores: _, ...noScores } = toyBatch(3, 2, 1);
  void _;
  assert.throws(
    () => new DistillKLDivLoss().computeGradients(enc, enc, noScores),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'batch.scores',
  );
  assert.throws(
    () =>
      new DistillKLDivLoss().computeGradients(enc, enc, { ...toyBatch(3, 0, 1), scores: [[1], [2], [3]] }),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'batch.negatives',
  );
  assert.deepEqual(new DistillKLDivLoss({ temperature: 2 }).forSimilarity('cosine').toJSON(), {
    kind: 'distill-kl',
    similarity: 'cosine',
    temperature: 2,
  });
  enc.dispose();
});
