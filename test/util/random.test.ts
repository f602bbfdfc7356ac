import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng, deriveSeed, hashInt } from '../../src/util/random.js';

test('same seed, same stream; the state resumes it; other seeds differ', () => {
  const a = new Rng(42);
  const first = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(
    Array.from({ length: 5 }, () => new Rng(42)).map((r) => r.next()),
    Array(5).fill(first[0]),
  );
  const b = new Rng(42);
  b.next();
  b.next();
  const resumed = Rng.fromState(b.state);
  assert.deepEqual([resumed.next(), resumed.next(), resumed.next()], first.slice(2));
  assert.notEqual(new Rng(43).next(), first[0]);
  for (const x of first) assert.ok(x >= 0 && x < 1);
});

test('shuffle is a permutation and roughly uniform', () => {
  const rng = new Rng(7);
  const items = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const shuffled = rng.shuffle(items);
  assert.deepEqual(
    [...shuffled].sort((x, y) => x - y),
    items,
  );
  assert.deepEqual(items, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'input untouched');
  // Position of element 0 over many shuffles: each of 10 slots should get ~10%.
  const counts = new Array(10).fill(0);
  for (let i = 0; i < 5000; i++) counts[rng.shuffle(items).indexOf(0)] += 1;
  for (const c of counts) assert.ok(c > 400 && c < 600, `slot counts ${counts}`);
});

test('derived seeds depend on every component', () => {
  assert.equal(deriveSeed(1, 2, 3), deriveSeed(1, 2, 3));
  const seen = new Set([
    deriveSeed(1),
    deriveSeed(2),
    deriveSeed(1, 0),
    deriveSeed(1, 1),
    deriveSeed(1, 0, 1),
    deriveSeed(1, 1, 0),
  ]);
  assert.equal(seen.size, 6);
  assert.notEqual(hashInt(1), hashInt(2));
});
