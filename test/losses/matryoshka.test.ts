import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { CachedInBatchNegativesLoss } from '../../src/losses/cached-in-batch-negatives.js';
import { InBatchNegativesLoss } from '../../src/losses/in-batch-negatives.js';
import { MatryoshkaLoss } from '../../src/losses/matryoshka.js';
import { checkParity, checkPlainEqualsCached, lossCases, toyBatch } from './loss-fixtures.js';
import { ToyEncoder } from './toy-encoder.js';

before(async () => {
  await initBackend();
});

for (const c of lossCases('matryoshka')) {
  test(`MatryoshkaLoss matches the PyTorch reference: ${c.name}`, () => {
    const inner = new InBatchNegativesLoss({
      similarity: c.similarity as 'dot' | 'cosine',
      scale: c.scale as number,
    });
    const loss = new MatryoshkaLoss(inner, {
      dims: c.dims as number[],
      weights: c.weights as number[],
      normalize: c.normalize as boolean,
    });
    checkParity(loss, c);
  });
}

test('MatryoshkaLoss over the cached in-batch loss: same value and gradients, one forward pass per step', () => {
  const enc = new ToyEncoder({ seed: 7, dim: 8 });
  const options = { dims: [8, 4, 2], weights: [1, 0.5, 0.25] };
  const plain = new MatryoshkaLoss(new InBatchNegativesLoss({ similarity: 'cosine' }), options);
  const cached = new MatryoshkaLoss(
    new CachedInBatchNegativesLoss({ similarity: 'cosine', miniBatchSize: 3 }),
    options,
  );
  assert.equal(cached.miniBatchSize, 3);
  assert.equal(plain.miniBatchSize, undefined);
  checkPlainEqualsCached(plain, cached, enc, toyBatch(5, 1, 2), 3);
  enc.dispose();
});

test('MatryoshkaLoss with one full-width dim is its inner loss', () => {
  const enc = new ToyEncoder({ seed: 3, dim: 8 });
  const batch = toyBatch(4, 1, 1);
  const inner = new InBatchNegativesLoss({ similarity: 'cosine' });
  const a = inner.computeGradients(enc, enc, batch);
  const m = new MatryoshkaLoss(inner, { dims: [8] }).computeGradients(enc, enc, batch);
  assert.ok(Math.abs(a.loss - m.loss) <= 1e-6, `${a.loss} vs ${m.loss}`);
  for (const g of [...a.grads.values(), ...m.grads.values()]) g.dispose();
  enc.dispose();
});

test('MatryoshkaLoss validates its dims and weights, and follows the model similarity', () => {
  const inner = new InBatchNegativesLoss();
  const bad = (options: unknown, arg: string) =>
    assert.throws(
      () => new MatryoshkaLoss(inner, options as { dims: number[] }),
      (e: unknown) => e instanceof ArgumentError && e.argument === arg,
    );
  bad({ dims: [] }, 'dims');
  bad({ dims: [64, 0] }, 'dims');
  bad({ dims: [64, 32.5] }, 'dims');
  bad({ dims: [64, 32], weights: [1] }, 'weights');
  bad({ dims: [64], weights: [Number.NaN] }, 'weights');
  bad({ dims: [64], dim: 3 }, 'options');
  const enc = new ToyEncoder({ dim: 8 });
  assert.throws(
    () => new MatryoshkaLoss(inner, { dims: [16, 8] }).computeGradients(enc, enc, toyBatch(3, 0, 1)),
    /dims: 16 exceeds the embedding width 8/,
  );
  enc.dispose();
  const cos = new MatryoshkaLoss(inner, { dims: [8, 4] }).forSimilarity('cosine');
  assert.equal((cos.inner as InBatchNegativesLoss).similarity, 'cosine');
  assert.deepEqual(cos.toJSON(), {
    kind: 'matryoshka',
    dims: [8, 4],
    weights: [1, 1],
    normalize: false,
    inner: { kind: 'in-batch-negatives', similarity: 'cosine', scale: 20, symmetric: false },
  });
});
