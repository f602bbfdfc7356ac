import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { writeNpy } from '../../src/data/npy.js';
import { ArgumentError } from '../../src/errors.js';
import { ExactIndex } from '../../src/index/exact.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { measureRecall } from '../../src/index/recall.js';
import { checkMatrixShape, matrixFromRows, matrixRow } from '../../src/util/matrix.js';
import { tmpDir } from '../helpers/tmp.js';

test('matrixFromRows packs rows row-major; matrixRow is a view of one row', () => {
  const m = matrixFromRows([
    [1, 2],
    [3, 4],
    [5, 6],
  ]);
  assert.deepEqual([m.rows, m.cols, [...m.data]], [3, 2, [1, 2, 3, 4, 5, 6]]);
  const row = matrixRow(m, 1);
  assert.deepEqual([...row], [3, 4]);
  row[0] = 9;
  assert.equal(m.data[2], 9, 'a view, not a copy');
  assert.throws(() => matrixRow(m, 3), /i: must be a row index from 0 to 2, got 3/);
  assert.throws(() => matrixFromRows([[1, 2], [3]]), /rows: row 1 has 1 values, row 0 has 2/);
  assert.throws(() => matrixFromRows([[1, NaN]]), /row 0 column 1 is not a finite number/);
  assert.deepEqual(matrixFromRows([]), { data: new Float32Array(0), rows: 0, cols: 0 });
});

test('checkMatrixShape says what was given instead of a Matrix', () => {
  assert.throws(
    () => checkMatrixShape('vectors', [[1, 2]]),
    /vectors: expected a Matrix .*got an array of arrays \(matrixFromRows/,
  );
  assert.throws(() => checkMatrixShape('vectors', null), /got null/);
  assert.throws(
    () => checkMatrixShape('vectors', { data: [1, 2], rows: 1, cols: 2 }),
    /data: Float32Array, got data of type Array/,
  );
  assert.throws(
    () => checkMatrixShape('vectors', { data: new Float32Array(2), rows: 1.5, cols: 2 }),
    /rows must be a non-negative integer/,
  );
  assert.throws(
    () => checkMatrixShape('vectors', { data: new Float32Array(3), rows: 1, cols: 2 }),
    /has 3 values, expected rows\*cols = 2/,
  );
});

test('every public entry point taking a Matrix rejects a nested array with an ArgumentError', async () => {
  const nested = [
    [1, 2],
    [3, 4],
  ] as never;
  const isArg = (name: string) => (e: unknown) => e instanceof ArgumentError && e.argument === name;
  const exact = new ExactIndex({ dim: 2 });
  // Before: TypeError "Cannot read properties of undefined" from deep inside add.
  await assert.rejects(exact.add(nested, ['a', 'b']), isArg('vectors'));
  await assert.rejects(exact.search(nested, 1), isArg('queries'));
  const hnsw = new HnswIndex({ dim: 2 });
  await assert.rejects(hnsw.add(nested, ['a', 'b']), isArg('vectors'));
  await assert.rejects(hnsw.search(nested, 1), isArg('queries'));
  await exact.add(matrixFromRows([[1, 0]]), ['a']);
  await hnsw.add(matrixFromRows([[1, 0]]), ['a']);
  await assert.rejects(measureRecall(hnsw, exact, nested, 1), isArg('queries'));
  await assert.rejects(writeNpy(path.join(tmpDir(), 'x.npy'), nested), isArg('m'));
});
