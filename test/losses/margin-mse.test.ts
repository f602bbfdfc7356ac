import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { CachedLoss } from '../../src/losses/cached.js';
import { MarginMSELoss } from '../../src/losses/margin-mse.js';
import { MatryoshkaLoss } from '../../src/losses/matryoshka.js';
import { checkParity, checkPlainEqualsCached, lossCases, toyBatch } from './loss-fixtures.js';
import { ToyEncoder } from './toy-encoder.js';

before(async () => {
  await initBackend();
});

for (const c of lossCases('margin-mse')) {
  test(`MarginMSELoss matches the PyTorch reference: ${c.name}`, () => {
    checkParity(new MarginMSELoss({ similarity: c.similarity as 'dot' | 'cosine' }), c);
  });
}

test('MarginMSELoss plain and cached (and under Matryoshka) give the same value and gradients', () => {
  const enc = new ToyEncoder({ seed: 9 });
  const batch = toyBatch(5, 2, 3);
  checkPlainEqualsCached(
    new MarginMSELoss(),
    new CachedLoss(new MarginMSELoss(), { miniBatchSize: 4 }),
    enc,
    batch,
    4,
  );
  const dims = { dims: [8, 4] };
  checkPlainEqualsCached(
    new MatryoshkaLoss(new MarginMSELoss(), dims),
    new MatryoshkaLoss(new CachedLoss(new MarginMSELoss(), { miniBatchSize: 3 }), dims),
    enc,
    batch,
    3,
  );
  enc.dispose();
});

test('MarginMSELoss refuses a batch without teacher scores or without negatives, before embedding', () => {
  const enc = new ToyEncoder();
  const { scores: _, ...noScores } = toyBatch(3, 2, 1);
  void _;
  for (const loss of [new MarginMSELoss(), new CachedLoss(new MarginMSELoss(), { miniBatchSize: 2 })]) {
    enc.embedCalls = 0;
    assert.throws(
      () => loss.computeGradients(enc, enc, noScores),
      (e: unknown) =>
        e instanceof ArgumentError && e.argument === 'batch.scores' && /needs teacher scores/.test(e.message),
    );
    assert.throws(
      () => loss.computeGradients(enc, enc, { ...toyBatch(3, 0, 1), scores: [[1], [2], [3]] }),
      (e: unknown) => e instanceof ArgumentError && e.argument === 'batch.negatives',
    );
    assert.throws(
      () =>
        loss.computeGradients(enc, enc, {
          ...toyBatch(2, 2, 1),
          scores: [
            [1, 2, 3],
            [1, 2],
          ],
        }),
      /batch.scores: row 1 has 2 scores, expected 1 \+ 2/,
    );
    assert.equal(enc.embedCalls, 0);
  }
  assert.equal(new MarginMSELoss().forSimilarity('cosine').similarity, 'cosine');
  assert.throws(
    () => new MarginMSELoss({ similarity: 'dot' }).forSimilarity('cosine'),
    /model's similarity is 'cosine'/,
  );
  enc.dispose();
});
