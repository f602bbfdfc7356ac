import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fuse, normalizeRun } from '../../src/index/fuse.js';
import { optimizeFusionWeights } from '../../src/eval/fusion-weights.js';
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
    () => fuse([new Map()], { method: 'borda' as 'rrf' }),
    /method: unknown fusion method 'borda'/,
  );
  assert.throws(() => fuse([new Map()], { depth: 0 }), /depth: must be >= 1, got 0/);
});

// Two runs of one query, worked by hand. a: 4, b: 2, c: 0 (min 0, max 4); b: 10, d: 5 (min 5, max 10).
const sparse = run({ q: { a: 4, b: 2, c: 0 } });
const bm = run({ q: { b: 10, d: 5 } });

test('normalisations follow ranx: min-max, z-score (population std), sum, rank', () => {
  assert.deepEqual(
    [...normalizeRun(sparse, 'min-max').get('q')!],
    [
      ['a', 1],
      ['b', 0.5],
      ['c', 0],
    ],
  );
  // mean 2, population std sqrt(8/3)
  const z = normalizeRun(sparse, 'z-score').get('q')!;
  assert.ok(Math.abs(z.get('a')! - 2 / Math.sqrt(8 / 3)) < 1e-15);
  assert.equal(z.get('b'), 0);
  // (s - min) / Σ(s - min) = s / 6
  assert.deepEqual(
    [...normalizeRun(sparse, 'sum').get('q')!],
    [
      ['a', 4 / 6],
      ['b', 2 / 6],
      ['c', 0],
    ],
  );
  assert.deepEqual(
    [...normalizeRun(sparse, 'rank').get('q')!],
    [
      ['a', 1],
      ['b', 1 - 1 / 3],
      ['c', 1 - 2 / 3],
    ],
  );
  // One score for every document: the 1e-9 floor keeps it finite (0), as ranx.
  assert.deepEqual(
    [
      ...normalizeRun(run({ q: { x: 3, y: 3 } }), 'min-max')
        .get('q')!
        .values(),
    ],
    [0, 0],
  );
  assert.throws(() => normalizeRun(sparse, 'l2' as 'sum'), /norm: unknown normalisation 'l2'/);
});

test('CombSUM, CombMNZ, CombMAX and weighted sum equal hand-computed values', () => {
  // min-max: run 1 a 1, b 0.5, c 0; run 2 b 1, d 0.
  const sum = fuse([sparse, bm], { method: 'combsum', norm: 'min-max' }).get('q')!;
  assert.deepEqual(Object.fromEntries(sum), { a: 1, b: 1.5, c: 0, d: 0 });
  const mnz = fuse([sparse, bm], { method: 'combmnz' }).get('q')!; // min-max is the default
  assert.deepEqual(Object.fromEntries(mnz), { a: 1, b: 3, c: 0, d: 0 });
  const max = fuse([sparse, bm], { method: 'combmax', norm: 'min-max' }).get('q')!;
  assert.deepEqual(Object.fromEntries(max), { a: 1, b: 1, c: 0, d: 0 });
  const w = fuse([sparse, bm], { method: 'wsum', weights: [0.25, 0.75], norm: 'sum' }).get('q')!;
  // sum norm: run 1 a 4/6, b 2/6, c 0; run 2 b 5/5 = 1, d 0.
  assert.ok(Math.abs(w.get('a')! - 0.25 * (4 / 6)) < 1e-15);
  assert.ok(Math.abs(w.get('b')! - (0.25 * (2 / 6) + 0.75)) < 1e-15);
  const raw = fuse([sparse, bm], { method: 'combsum', norm: 'none', depth: 1 }).get('q')!;
  assert.deepEqual(Object.fromEntries(raw), { a: 4, b: 10 }, 'depth 1 keeps each run top document');
  assert.throws(
    () => fuse([sparse, bm], { method: 'combsum', weights: [1, 1] }),
    /only the wsum method takes weights/,
  );
  assert.throws(
    () => fuse([sparse, bm], { method: 'wsum', weights: [1] }),
    /one weight per run \(2\), got 1/,
  );
});

test('optimizeFusionWeights searches the simplex grid and keeps the best (later wins ties, as ranx)', () => {
  // Run A ranks the relevant document first on q1, run B on q2; only a mix gets both right.
  const qrels = new Map([
    ['q1', new Map([['r1', 1]])],
    ['q2', new Map([['r2', 1]])],
  ]);
  const a = run({ q1: { r1: 1, x: 0.5, y: 0 }, q2: { x: 1, r2: 0.9, y: 0 } });
  const b = run({ q1: { x: 1, r1: 0.9, y: 0 }, q2: { r2: 1, x: 0.5, y: 0 } });
  const result = optimizeFusionWeights(qrels, [a, b], 'recip_rank', { step: 0.25 });
  assert.deepEqual(
    result.trials.map((t) => t.weights),
    [
      [0, 1],
      [0.25, 0.75],
      [0.5, 0.5],
      [0.75, 0.25],
      [1, 0],
    ],
  );
  // Weight w on A (min-max = raw here): q1 r1 = 0.9 + 0.1w beats x = 1 - 0.5w iff w > 1/6; q2 r2 =
  // 1 - 0.1w beats x = 0.5 + 0.5w iff w < 5/6. So 0.25, 0.5, 0.75 all score 1; the last of them wins.
  assert.deepEqual(
    result.trials.map((t) => t.score),
    [0.75, 1, 1, 1, 0.75],
  );
  assert.deepEqual(result.weights, [0.75, 0.25]);
  assert.equal(result.score, 1);
  assert.throws(() => optimizeFusionWeights(qrels, [a, b], 'map', { step: 0.3 }), /step: must divide 1/);
  assert.throws(() => optimizeFusionWeights(qrels, [a], 'map'), /at least two runs/);
});

test('issue 12: an empty per-query map adds no query to the fused run (it has no line in a run file)', () => {
  const fused = fuse([run({ q1: { a: 1 }, q2: {} }), run({ q2: {}, q3: {} })]);
  assert.deepEqual([...fused.keys()], ['q1']);
  const mixed = fuse([run({ q2: {} }), run({ q2: { b: 2 } })], { k: 0 });
  assert.deepEqual([...mixed.get('q2')!], [['b', 1]]);
});
