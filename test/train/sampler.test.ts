import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArgumentError } from '../../src/errors.js';
import type { TrainingExample } from '../../src/train/examples.js';
import { NoDuplicatesBatchSampler } from '../../src/train/sampler.js';
import { loadBeir } from '../../src/data/beir.js';
import { examplesFromQrels } from '../../src/train/examples.js';
import { SCIFACT_DIR } from '../helpers/data.js';

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

test('issue 12: batches are keyed on texts across columns, not only ids (batch 2, seeds 0-19)', () => {
  const data: TrainingExample[] = [
    {
      query: 'what do macrophages come from',
      positive: 'Macrophages are seeded before birth.',
      queryId: '85',
      positiveId: 'd1',
    },
    {
      query: 'what do macrophages come from',
      positive: 'Yolk sac progenitors give rise to macrophages.',
      queryId: '86',
      positiveId: 'd2',
    },
    {
      query: 'obesity and quality of life',
      positive: 'Identical abstract text.',
      queryId: '871',
      positiveId: 'd3',
    },
    { query: 'hnf4a and diabetes', positive: 'Identical abstract text.', queryId: '1291', positiveId: 'd4' },
  ];
  let batches = 0;
  for (let seed = 0; seed < 20; seed++) {
    const sampler = new NoDuplicatesBatchSampler(data, 2, seed);
    for (let n = 0; n < 2; n++) {
      const batch = sampler.next();
      batches++;
      const texts = batch.flatMap((i) => [data[i].query, data[i].positive]);
      assert.equal(new Set(texts).size, texts.length, `seed ${seed}: batch ${batch} repeats a text`);
    }
  }
  assert.equal(batches, 40);
});

test('issue 12: a text is a duplicate across columns (a query equal to another example passage), and ids still count', () => {
  const crossed: TrainingExample[] = [
    { query: 'same words', positive: 'a' },
    { query: 'b?', positive: 'same words' },
    { query: 'c?', positive: 'c' },
  ];
  for (let seed = 0; seed < 10; seed++) {
    for (const batch of new NoDuplicatesBatchSampler(crossed, 2, seed).epochBatches(0)) {
      assert.ok(!(batch.includes(0) && batch.includes(1)), `seed ${seed}: ${batch}`);
    }
  }
  // Two texts of one document (e.g. with and without title) still clash through the id.
  const sameDoc: TrainingExample[] = [
    { query: 'x?', positive: 'Title. Body', positiveId: 'd1' },
    { query: 'y?', positive: 'Body', positiveId: 'd1' },
    { query: 'z?', positive: 'Other', positiveId: 'd2' },
  ];
  for (let seed = 0; seed < 10; seed++) {
    for (const batch of new NoDuplicatesBatchSampler(sameDoc, 2, seed).epochBatches(0)) {
      assert.ok(!(batch.includes(0) && batch.includes(1)), `seed ${seed}: ${batch}`);
    }
  }
  // A query equal to its own positive is no clash within the example (as sentence-transformers' set).
  assert.doesNotThrow(
    () =>
      new NoDuplicatesBatchSampler(
        [
          { query: 'q', positive: 'q' },
          { query: 'r', positive: 's' },
        ],
        2,
        0,
      ),
  );
});

test('issue 12: SciFact train, batch 32, seed 42, 10 epochs: no batch holds one text twice', async () => {
  const { corpus, queries, qrels } = await loadBeir(SCIFACT_DIR, { split: 'train' });
  const data = examplesFromQrels({ queries, corpus, qrels });
  const sampler = new NoDuplicatesBatchSampler(data, 32, 42);
  let batches = 0;
  let repeated = 0;
  for (let epoch = 0; epoch < 10; epoch++) {
    for (const batch of sampler.epochBatches(epoch)) {
      batches++;
      const texts = batch.flatMap((i) => [data[i].query, data[i].positive]);
      if (new Set(texts).size !== texts.length) repeated++;
    }
  }
  assert.ok(batches >= 270, `${batches} batches`);
  assert.equal(repeated, 0);
});
