import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArgumentError } from '../../src/errors.js';
import { fitToIndex, truncateEmbeddings } from '../../src/util/truncate.js';

const m = { data: new Float32Array([3, 4, 12, 0, 0, 0, 5, 1]), rows: 2, cols: 4 };

test('truncateEmbeddings keeps the first dims and re-normalises on request', () => {
  const cut = truncateEmbeddings(m, 2, false);
  assert.deepEqual(Array.from(cut.data), [3, 4, 0, 0]);
  const unit = truncateEmbeddings(m, 2, true);
  assert.deepEqual(Array.from(unit.data), [0.6, 0.8, 0, 0].map(Math.fround)); // zero row stays zero
  assert.equal(truncateEmbeddings(m, 4, false), m);
  assert.throws(
    () => truncateEmbeddings(m, 5, false),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'truncateDim',
  );
  assert.throws(() => truncateEmbeddings(m, 0, false), ArgumentError);
});

test('fitToIndex cuts full-width rows and passes already-truncated ones', () => {
  assert.equal(fitToIndex(m, 4, 4), m);
  assert.equal(fitToIndex(m, 8, 4), m); // 4 wide already
  assert.deepEqual(Array.from(fitToIndex(m, 4, 3).data), [3, 4, 12, 0, 0, 5]);
});
