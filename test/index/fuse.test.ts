import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fuse } from '../../src/index/fuse.js';
import type { Run } from '../../src/types.js';

const run = (entries: Record<string, Record<string, number>>): Run =>
  new Map(Object.entries(entries).map(([q, docs]) => [q, new Map(Object.entries(docs))]));

test('reciprocal-rank fusion sums 1/(k + rank) with ranks from 1', () => {
  const dense = run({ q1: { a: 0.9, b: 0.8, c: 0.1 } });
  const bm25 = run({ q1: { c: 12, a: 3 }, q2: { x: 1 } });
  const fused = fuse([dense, bm25], { method: 'rrf', k: 60 });
  const q1 = fused.get('q1')!;
  assert.equal(q1.get('a'), 1 / 61 + 1 / 62);
  assert.equal(q1.get('b'), 1 / 62);
  assert.equal(q1.get('c'), 1 / 63 + 1 / 61);
  assert.deepEqual([...fused.get('q2')!], [['x', 1 / 61]]);
});

test('ranks use trec_eval order (ties: higher id first) and depth limits each run', () => {
  const tied = run({ q: { a: 1, b: 1, c: 0.5 } });
  const fused = fuse([tied], { k: 0, depth: 2 });
  assert.deepEqual(
    [...fused.get('q')!],
    [
      ['b', 1],
      ['a', 1 / 2],
    ],
  );
});

test('bad options are clear errors', () => {
  assert.throws(() => fuse([], {}), /runs: nothing to fuse/);
  assert.throws(() => fuse([new Map()], { k: -1 }), /k: must be a finite number >= 0, got -1/);
  assert.throws(
    () => fuse([new Map()], { method: 'combsum' as 'rrf' }),
    /method: unknown fusion method 'combsum'/,
  );
  assert.throws(() => fuse([new Map()], { depth: 0 }), /depth: must be >= 1, got 0/);
});

test('issue 12: an empty per-query map adds no query to the fused run (it has no line in a run file)', () => {
  const fused = fuse([run({ q1: { a: 1 }, q2: {} }), run({ q2: {}, q3: {} })]);
  assert.deepEqual([...fused.keys()], ['q1']);
  const mixed = fuse([run({ q2: {} }), run({ q2: { b: 2 } })], { k: 0 });
  assert.deepEqual([...mixed.get('q2')!], [['b', 1]]);
});
