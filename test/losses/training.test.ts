import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { CachedLoss } from '../../src/losses/cached.js';
import { DistillKLDivLoss } from '../../src/losses/distill-kl.js';
import { CachedGISTEmbedLoss, GISTEmbedLoss } from '../../src/losses/gist-embed.js';
import { InBatchNegativesLoss } from '../../src/losses/in-batch-negatives.js';
import { MarginMSELoss } from '../../src/losses/margin-mse.js';
import { MatryoshkaLoss } from '../../src/losses/matryoshka.js';
import type { RetrievalLoss } from '../../src/losses/types.js';
import { LexicalGuide, scifactExamples, trainOnScifact } from './scifact-training.js';

before(async () => {
  await initBackend();
});

const guide = new LexicalGuide();
after(() => guide.dispose());

test('the SciFact training data has BM25 hard negatives and teacher scores', async () => {
  const examples = await scifactExamples();
  assert.equal(examples.length, 48);
  assert.ok(examples.every((e) => e.negatives!.length === 2 && e.negativeScores!.length === 2));
  // BM25 ranks the negatives first among the unjudged documents: scores in non-increasing order.
  assert.ok(examples.every((e) => e.negativeScores![0] >= e.negativeScores![1]));
  assert.ok(examples.filter((e) => e.positiveScore! > e.negativeScores![0]).length > 10);
});

const cases: [string, RetrievalLoss, 'dot' | 'cosine'][] = [
  [
    'MatryoshkaLoss(InBatchNegativesLoss) at 16/8/4 dims',
    new MatryoshkaLoss(new InBatchNegativesLoss(), { dims: [16, 8, 4] }),
    'cosine',
  ],
  ['MarginMSELoss', new MarginMSELoss(), 'dot'],
  ['MarginMSELoss, cached', new CachedLoss(new MarginMSELoss(), { miniBatchSize: 8 }), 'dot'],
  ['DistillKLDivLoss (T = 2)', new DistillKLDivLoss({ temperature: 2 }), 'dot'],
  ['GISTEmbedLoss (lexical guide)', new GISTEmbedLoss(guide, { margin: 0.05, temperature: 0.05 }), 'cosine'],
  [
    'CachedGISTEmbedLoss (lexical guide)',
    new CachedGISTEmbedLoss(guide, { margin: 0.05, temperature: 0.05, miniBatchSize: 8 }),
    'cosine',
  ],
];

for (const [name, loss, similarity] of cases) {
  test(`${name}: the loss falls on SciFact pairs and no tensor leaks across steps`, async () => {
    const { first, last, counts } = await trainOnScifact(loss, { similarity });
    assert.ok(Number.isFinite(first) && Number.isFinite(last), `${first} -> ${last}`);
    assert.ok(last < 0.8 * first, `mean loss of the first 8 steps ${first}, of the last 8 ${last}`);
    assert.deepEqual(
      new Set(counts.slice(1)),
      new Set([counts[1]]),
      `numTensors per step: ${counts.join(',')}`,
    );
  });
}
