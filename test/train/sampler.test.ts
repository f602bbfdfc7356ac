import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArgumentError } from '../../src/errors.js';
import type { TrainingExample } from '../../src/train/examples.js';
import { NoDuplicatesBatchSampler } from '../../src/train/sampler.js';

function examples(n: number): TrainingExample[] {
  // Queries 0..n-1; positives repeat every 5 (p0..p4) so batches must avoid putting two of them together.
  return Array.from({ length: n }, (_, i) => ({ query: `q${i}`, positive: `p${i % 5}` }));
}

test('batches never repeat a query or passage, and every epoch is a seeded permutation', () => {
  const data = examples(20);
  const sampler = new NoDuplicatesBatchSampler(data, 4, 7);
  const batches = sampler.epochBatches(0);
  assert.equal(batches.length, 5);
  for (const b of batches) {
    assert.equal(b.length, 4);
    assert.equal(new Set(b.map((i) => data[i].positive)).size, 4, `duplicate passage in ${b}`);
  }
  assert.deepEqual(
    batches.flat().sort((a, b) => a - b),
    data.map((_, i) => i),
  );
  assert.deepEqual(
    new NoDuplicatesBatchSampler(data, 4, 7).epochBatches(0),
    batches,
    'same seed, same batches',
  );
  assert.notDeepEqual(new NoDuplicatesBatchSampler(data, 4, 8).epochBatches(0), batches);
  assert.notDeepEqual(sampler.epochBatches(1), batches, 'each epoch reshuffles');
});

test('the sampler state resumes the same stream across epochs', () => {
  const data = examples(12);
  const a = new NoDuplicatesBatchSampler(data, 3, 1);
  const straight = Array.from({ length: 9 }, () => a.next());
  const b = new NoDuplicatesBatchSampler(data, 3, 1);
  const first = Array.from({ length: 5 }, () => b.next());
  const c = new NoDuplicatesBatchSampler(data, 3, 1);
  c.state = b.state;
  assert.deepEqual([...first, ...Array.from({ length: 4 }, () => c.next())], straight);
  assert.equal(c.state.epoch, 2);
});

test('identities (ids) count as duplicates even when texts differ', () => {
  const data: TrainingExample[] = [
    { query: 'a', positive: 'x', positiveId: 'd1' },
    { query: 'b', positive: 'x (copy)', positiveId: 'd1' },
    { query: 'c', positive: 'y', positiveId: 'd2' },
    { query: 'd', positive: 'z', positiveId: 'd3' },
  ];
  for (const b of new NoDuplicatesBatchSampler(data, 2, 3).epochBatches(0)) {
    assert.ok(!(b.includes(0) && b.includes(1)), `examples 0 and 1 share d1: ${b}`);
  }
});

test('bad inputs are named errors', () => {
  const expectArg = (fn: () => unknown, argument: string, message: RegExp) =>
    assert.throws(
      fn,
      (e: unknown) => e instanceof ArgumentError && e.argument === argument && message.test(e.message),
    );
  expectArg(
    () => new NoDuplicatesBatchSampler(examples(3), 4, 1),
    'batchSize',
    /batchSize: \(4\) is larger than the 3 training examples/,
  );
  expectArg(() => new NoDuplicatesBatchSampler([], 4, 1), 'examples', /no training examples/);
  expectArg(
    () => new NoDuplicatesBatchSampler(examples(10), 6, 1),
    'batchSize',
    /\(6\) cannot be filled without repeating a query or passage/,
  );
  expectArg(
    () =>
      new NoDuplicatesBatchSampler([{ query: 'q', positive: 'p', negatives: ['p'] }, ...examples(3)], 2, 1),
    'examples',
    /example 0 repeats a passage/,
  );
});
