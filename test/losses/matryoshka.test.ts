import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { CachedInBatchNegativesLoss } from '../../src/losses/cached-in-batch-negatives.js';
import { InBatchNegativesLoss } from '../../src/losses/in-batch-negatives.js';
import { MatryoshkaLoss } from '../../src/losses/matryoshka.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';
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

test('MatryoshkaLoss on a tiny BERT: cached equals plain, each chunk embedded twice for all dims', async () => {
  const dir = tmpDir();
  const enc = await SentenceEncoder.fromScratch(tinyConfig(dir), undefined, { seed: 2 });
  const batch = toyBatch(4, 1, 3);
  const options = { dims: [16, 8, 4] };
  const plain = new MatryoshkaLoss(new InBatchNegativesLoss({ similarity: 'cosine' }), options);
  const cached = new MatryoshkaLoss(
    new CachedInBatchNegativesLoss({ similarity: 'cosine', miniBatchSize: 3 }),
    options,
  );
  const a = plain.computeGradients(enc, enc, batch);
  let calls = 0;
  const counting = {
    embed: (texts: string[], o?: { training?: boolean; dropoutSeed?: number }) => {
      calls += 1;
      return enc.embed(texts, o);
    },
    trainableVariables: () => enc.trainableVariables(),
  };
  const c = cached.computeGradients(counting, counting, batch);
  // 4 queries and 8 passages in chunks of 3: 2 + 3 chunks, each embedded once without and once with a tape.
  assert.equal(calls, 2 * (2 + 3));
  assert.ok(Math.abs(a.loss - c.loss) <= 1e-5 * Math.max(1, a.loss), `${a.loss} vs ${c.loss}`);
  for (const [v, g] of a.grads) {
    const [d, size] = tf.tidy(() => [
      tf.max(tf.abs(tf.sub(g, c.grads.get(v)!))).dataSync()[0],
      tf.max(tf.abs(g)).dataSync()[0],
    ]);
    assert.ok(d <= 1e-5 * Math.max(1, size), `${v.name}: ${d} (max |g| ${size})`);
  }
  tf.dispose([...a.grads.values(), ...c.grads.values()]);
  enc.dispose();
});
