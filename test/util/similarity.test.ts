import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArgumentError } from '../../src/errors.js';
import { matrixFromRows } from '../../src/util/matrix.js';
import { cosSim, dotScore, l2NormalizeRows, semanticSearch } from '../../src/util/similarity.js';

const close = (actual: ArrayLike<number>, expected: number[], eps = 1e-6): void => {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= eps, `[${i}] ${actual[i]} != ${expected[i]}`);
  }
};

const A = matrixFromRows([
  [1, 2, 2],
  [0, 0, 0],
]);
const B = matrixFromRows([
  [3, 0, 4],
  [0, 1, 0],
  [-1, -2, -2],
]);

test('dotScore is the [a.rows, b.rows] matrix of dot products (hand values)', () => {
  const s = dotScore(A, B);
  assert.deepEqual([s.rows, s.cols], [2, 3]);
  // [1,2,2]·[3,0,4] = 11, ·[0,1,0] = 2, ·[-1,-2,-2] = -9; the zero row scores 0.
  close(s.data, [11, 2, -9, 0, 0, 0]);
});

test('cosSim divides by both norms; a zero row has similarity 0', () => {
  const s = cosSim(A, B);
  // |[1,2,2]| = 3, |[3,0,4]| = 5, |[0,1,0]| = 1, |[-1,-2,-2]| = 3.
  close(s.data, [11 / 15, 2 / 3, -1, 0, 0, 0]);
});

test('l2NormalizeRows scales rows to unit length, keeps zero rows, and copies', () => {
  const n = l2NormalizeRows(
    matrixFromRows([
      [3, 4],
      [0, 0],
      [0, -2],
    ]),
  );
  close(n.data, [0.6, 0.8, 0, 0, 0, -1]);
  const m = matrixFromRows([[3, 4]]);
  l2NormalizeRows(m);
  close(m.data, [3, 4]);
});

test('semanticSearch ranks corpus rows best first per query, ties by lower row, topK capped', () => {
  const corpus = matrixFromRows([
    [1, 0],
    [0, 1],
    [2, 0], // same direction as row 0: cosine tie, dot winner
    [-1, 0],
  ]);
  const queries = matrixFromRows([
    [1, 0],
    [0, 3],
  ]);
  const cos = semanticSearch(queries, corpus, { topK: 3 });
  assert.deepEqual(
    cos.map((hits) => hits.map((h) => h.corpusId)),
    [
      [0, 2, 1],
      [1, 0, 2],
    ],
  );
  close(
    cos[0].map((h) => h.score),
    [1, 1, 0],
  );
  const dot = semanticSearch(queries, corpus, { topK: 10, scoreFunction: 'dot' });
  assert.deepEqual(
    dot[0].map((h) => [h.corpusId, h.score]),
    [
      [2, 2],
      [0, 1],
      [1, 0],
      [3, -1],
    ],
  );
  assert.equal(semanticSearch(queries, corpus).length, 2);
});

test('bad arguments are ArgumentErrors naming them', () => {
  assert.throws(
    () => cosSim([[1, 2]] as never, B),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'a',
  );
  assert.throws(() => dotScore(A, matrixFromRows([[1, 2]])), /b: has 2 columns, a has 3/);
  assert.throws(() => semanticSearch(A, B, { topK: 0 }), /topK: must be a positive integer/);
  assert.throws(() => semanticSearch(A, B, { top_k: 3 } as never), /options: unknown option\(s\) top_k/);
  assert.throws(() => semanticSearch(A, B, { scoreFunction: 'l2' as never }), /scoreFunction/);
});
