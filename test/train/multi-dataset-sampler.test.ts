import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArgumentError } from '../../src/errors.js';
import type { TrainingExample } from '../../src/train/examples.js';
import { MultiDatasetBatchSampler } from '../../src/train/multi-dataset-sampler.js';
import { NoDuplicatesBatchSampler } from '../../src/train/sampler.js';

function dataset(prefix: string, n: number): TrainingExample[] {
  return Array.from({ length: n }, (_, i) => ({ query: `${prefix} q${i}`, positive: `${prefix} p${i}` }));
}

// 3 datasets of 4, 8 and 12 batches of 2 (every text distinct, so every example lands in a batch).
const sizes = [8, 16, 24];
const samplers = () => sizes.map((n, d) => new NoDuplicatesBatchSampler(dataset(`ds${d}`, n), 2, 100 + d));

test('round-robin: datasets take turns in order; the epoch ends at the first dataset out of batches', () => {
  const sampler = new MultiDatasetBatchSampler(samplers(), 'round-robin', 42);
  const epoch = sampler.epochBatches(0);
  // 4 full rounds (dataset 0 has 4 batches), then dataset 0 has none left: 12 batches, as ST's iterator.
  assert.deepEqual(
    epoch.map((b) => b.dataset),
    [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2],
  );
  // Each dataset's batches are its own sampler's, in its order.
  const own = samplers().map((s) => s.epochBatches(0));
  for (let d = 0; d < 3; d++) {
    assert.deepEqual(
      epoch.filter((b) => b.dataset === d).map((b) => b.indices),
      own[d].slice(0, 4),
    );
  }
  // Another order of the same datasets: the smallest still ends the epoch at its turn.
  const reversed = new MultiDatasetBatchSampler(samplers().reverse(), 'round-robin', 42).epochBatches(0);
  assert.deepEqual(
    reversed.map((b) => b.dataset),
    [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1],
  );
});

test('proportional: every batch of every dataset once, datasets in a seeded random order', () => {
  const sampler = new MultiDatasetBatchSampler(samplers(), 'proportional', 42);
  const epoch = sampler.epochBatches(0);
  assert.equal(epoch.length, 4 + 8 + 12);
  const own = samplers().map((s) => s.epochBatches(0));
  for (let d = 0; d < 3; d++) {
    assert.deepEqual(
      epoch.filter((b) => b.dataset === d).map((b) => b.indices),
      own[d],
    );
  }
  const order = epoch.map((b) => b.dataset);
  // Interleaved, not dataset after dataset; the same for the same seed, another for another epoch or seed.
  assert.notDeepEqual(order, [...order].sort());
  assert.deepEqual(new MultiDatasetBatchSampler(samplers(), 'proportional', 42).epochBatches(0), epoch);
  assert.notDeepEqual(
    sampler.epochBatches(1).map((b) => b.dataset),
    order,
  );
  assert.notDeepEqual(
    new MultiDatasetBatchSampler(samplers(), 'proportional', 43).epochBatches(0).map((b) => b.dataset),
    order,
  );
});

test('the state resumes the same stream across epochs; a bad sampling is refused', () => {
  for (const sampling of ['round-robin', 'proportional'] as const) {
    const a = new MultiDatasetBatchSampler(samplers(), sampling, 7);
    const straight = Array.from({ length: 40 }, () => a.next());
    const b = new MultiDatasetBatchSampler(samplers(), sampling, 7);
    for (let i = 0; i < 17; i++) b.next();
    const c = new MultiDatasetBatchSampler(samplers(), sampling, 7);
    c.state = b.state;
    assert.deepEqual(
      Array.from({ length: 23 }, () => c.next()),
      straight.slice(17),
    );
  }
  assert.throws(
    () => new MultiDatasetBatchSampler(samplers(), 'random' as never, 1),
    (e: unknown) =>
      e instanceof ArgumentError && /sampling: must be one of round-robin, proportional/.test(e.message),
  );
});
