import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArgumentError } from '../../src/errors.js';
import type { TrainingExample } from '../../src/train/examples.js';
import { drawNegatives } from '../../src/train/negative-pool.js';

const pool: TrainingExample = {
  query: 'q',
  positive: 'p',
  positiveId: 'dp',
  negatives: ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6'],
  negativeIds: ['d0', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6'],
  positiveScore: 10,
  negativeScores: [0, 1, 2, 3, 4, 5, 6],
};
const key = { dataset: 0, index: 3 };

test('a pool draw is deterministic, keeps ids and teacher scores aligned, and leaves the example alone', () => {
  const options = { groupSize: 4, seed: 42, epoch: 0 };
  const a = drawNegatives(pool, options, key);
  assert.deepEqual(drawNegatives(pool, options, key), a);
  assert.equal(a.negatives!.length, 3);
  assert.equal(new Set(a.negatives).size, 3);
  a.negatives!.forEach((n, j) => {
    const i = pool.negatives!.indexOf(n);
    assert.ok(i >= 0);
    assert.equal(a.negativeIds![j], `d${i}`);
    assert.equal(a.negativeScores![j], i);
  });
  assert.equal(a.positiveScore, 10);
  assert.equal(a.positiveId, 'dp');
  assert.equal(pool.negatives!.length, 7, 'the example itself is not changed');
});

test('epochs walk through the pool (Tevatron: shuffled once per example, a window per epoch)', () => {
  const draws = [0, 1, 2, 3].map(
    (epoch) => drawNegatives(pool, { groupSize: 4, seed: 42, epoch }, key).negatives!,
  );
  assert.notDeepEqual(draws[1], draws[0]);
  // Epochs 0 and 1 take 6 distinct negatives of the 7 before any comes back.
  assert.equal(new Set([...draws[0], ...draws[1]]).size, 6);
  // Epoch 2 starts at offset 6: the 7th negative, then wraps to the first of the order.
  assert.ok(!draws[0].includes(draws[2][0]) && !draws[1].includes(draws[2][0]));
  assert.deepEqual(draws[2].slice(1), draws[0].slice(0, 2));
  // Other examples and seeds shuffle their pools differently.
  const firstDraws = (seed: number) =>
    new Set(
      Array.from({ length: 10 }, (_, index) =>
        drawNegatives(pool, { groupSize: 4, seed, epoch: 0 }, { dataset: 0, index }).negatives!.join(),
      ),
    );
  assert.ok(firstDraws(42).size > 5);
  assert.notDeepEqual(drawNegatives(pool, { groupSize: 4, seed: 43, epoch: 0 }, key).negatives, draws[0]);
  // groupSize 1: the positive only.
  const none = drawNegatives(pool, { groupSize: 1, seed: 42, epoch: 0 }, key);
  assert.equal(none.negatives, undefined);
  assert.equal(none.negativeIds, undefined);
  assert.deepEqual(none.negativeScores, []);
});

test('a pool smaller than groupSize - 1 is an error naming the example', () => {
  assert.throws(
    () => drawNegatives(pool, { groupSize: 9, seed: 1, epoch: 0 }, key),
    (e: unknown) =>
      e instanceof ArgumentError &&
      /groupSize: 9 needs 8 negatives per example, but example 3 has 7; mine more negatives or lower groupSize/.test(
        e.message,
      ),
  );
});
