import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExactIndex } from '../../src/index/exact.js';
import { measureRecall, recallOfResults } from '../../src/index/recall.js';
import { searchResultToRun } from '../../src/index/result-run.js';
import type { Matrix } from '../../src/types.js';
import type { SearchResult, VectorIndex } from '../../src/index/types.js';
import { ids, randomMatrix } from './helpers.js';

test('recall is |approx ∩ exact| / k averaged over queries', async () => {
  assert.equal(
    recallOfResults(
      [
        ['a', 'b', 'x', 'y'],
        ['c', 'd', 'e', 'f'],
      ],
      [
        ['a', 'b', 'c', 'd'],
        ['f', 'e', 'd', 'c'],
      ],
      4,
    ),
    (2 / 4 + 4 / 4) / 2,
  );
});

test('measureRecall of an exact index against itself is 1, of a wrong index less', async () => {
  const docs = randomMatrix(200, 8, 5);
  const q = randomMatrix(10, 8, 6);
  const exact = new ExactIndex({ dim: 8 });
  await exact.add(docs, ids(200));
  assert.equal(await measureRecall(exact, exact, q, 10), 1);
  // An "approximate" index that returns the exact results shifted by one row of ids.
  const broken: VectorIndex = {
    dim: 8,
    size: 200,
    metric: 'ip',
    async add() {},
    async save() {},
    async remove() {
      return 0;
    },
    async upsert() {},
    async search(queries: Matrix, k: number): Promise<SearchResult> {
      const r = await exact.search(queries, k + 1);
      return { ids: r.ids.map((x) => x.slice(1)), scores: r.scores.map((s) => s.slice(1)) };
    },
  };
  assert.ok(Math.abs((await measureRecall(broken, exact, q, 10)) - 0.9) < 1e-12);
  const l2 = new ExactIndex({ dim: 8, metric: 'l2' });
  await l2.add(docs, ids(200));
  await assert.rejects(() => measureRecall(l2, exact, q, 10), /approx: indexes differ/);
});

test('searchResultToRun keys rows by query id and keeps scores', async () => {
  const run = searchResultToRun(
    { ids: [['a', 'b'], ['c']], scores: [Float32Array.of(2, 1), Float32Array.of(5)] },
    ['q1', 'q2'],
  );
  assert.deepEqual(
    [...run].map(([q, d]) => [q, [...d]]),
    [
      [
        'q1',
        [
          ['a', 2],
          ['b', 1],
        ],
      ],
      ['q2', [['c', 5]]],
    ],
  );
  assert.throws(
    () => searchResultToRun({ ids: [['a']], scores: [Float32Array.of(1)] }, []),
    /queryIds: got 0 query ids/,
  );
  assert.throws(
    () =>
      searchResultToRun({ ids: [['a'], ['b']], scores: [Float32Array.of(1), Float32Array.of(1)] }, [
        'q',
        'q',
      ]),
    /queryIds: duplicate query id 'q'/,
  );
});

test('issue 12: a query with no exact result is no query, and a short exact list is recalled in full', () => {
  // Query 2 has no exact result (nothing to recall): it must not count as a 0.
  assert.equal(recallOfResults([['a', 'b'], ['c', 'x'], []], [['a', 'b'], ['c', 'd'], []], 2), (1 + 0.5) / 2);
  // An exact list shorter than k (a corpus of 3): finding all 3 is recall 1, not 3/10.
  assert.equal(recallOfResults([['a', 'b', 'c']], [['c', 'b', 'a']], 10), 1);
  assert.equal(recallOfResults([[]], [[]], 10), 0);
  assert.throws(
    () => recallOfResults([['a']], [['a'], ['b']], 1),
    /approx: has 1 result lists for 2 exact ones/,
  );
});

test('measureRecall with a filter filters the exact reference too: an exact index against itself is 1', async () => {
  const docs = randomMatrix(200, 8, 5);
  const q = randomMatrix(20, 8, 6);
  const a = new ExactIndex({ dim: 8, metric: 'cosine' });
  const b = new ExactIndex({ dim: 8, metric: 'cosine' });
  await a.add(docs, ids(200));
  await b.add(docs, ids(200));
  const odd = (id: string): boolean => Number(id.slice(1)) % 2 === 1;
  // Unfiltered, the reference's even ids would be counted as misses (about half of them).
  assert.equal(await measureRecall(a, b, q, 10, { filter: odd }), 1);
});
