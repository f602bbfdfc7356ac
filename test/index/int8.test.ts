import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Int8Index } from '../../src/index/int8.js';
import { ids, randomMatrix } from './helpers.js';

/** Warnings emitted while `run` runs (process 'warning' events arrive on a later tick). */
async function warningsOf(run: () => Promise<void>): Promise<Error[]> {
  const seen: Error[] = [];
  const listen = (w: Error): void => void seen.push(w);
  process.on('warning', listen);
  try {
    await run();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', listen);
  }
  return seen.filter((w) => (w as { code?: string }).code === 'DENSE_RETRIEVAL_INT8_CLAMPED');
}

test('int8: a batch outside the calibration ranges is clamped with one warning that counts the values', async () => {
  const d = 8;
  const index = new Int8Index({ dim: d, metric: 'ip' });
  const first = randomMatrix(100, d, 1);
  // The first batch calibrates: nothing is clamped, no warning.
  assert.deepEqual(await warningsOf(() => index.add(first, ids(100))), []);
  // A second batch within the ranges: no warning either.
  const inside = { data: first.data.map((x) => x * 0.5), rows: 100, cols: d };
  assert.deepEqual(await warningsOf(() => index.add(inside, ids(100, 'i'))), []);
  // A batch of 10 vectors, 3 of them with values 10x the first batch's scale in 2 coordinates each.
  const far = randomMatrix(10, d, 2);
  const { min, max } = index.ranges!;
  const wantClamped = [0, 4, 9].length * 2;
  for (const r of [0, 4, 9]) {
    far.data[r * d] = max[0] * 10 + 1;
    far.data[r * d + 5] = min[5] * 10 - 1;
  }
  for (let r = 0; r < 10; r++) {
    if ([0, 4, 9].includes(r)) continue;
    for (let j = 0; j < d; j++) far.data[r * d + j] = (min[j] + max[j]) / 2;
  }
  for (const r of [0, 4, 9]) {
    for (let j = 0; j < d; j++) if (j !== 0 && j !== 5) far.data[r * d + j] = (min[j] + max[j]) / 2;
  }
  const got = await warningsOf(() => index.add(far, ids(10, 'f')));
  assert.equal(got.length, 1);
  assert.match(
    got[0].message,
    new RegExp(`^Int8Index: ${wantClamped} of ${10 * d} values \\(in 3 of 10 vectors\\)`),
  );
  // Once per index: a further clamped batch stays quiet.
  const again = { data: far.data.slice(), rows: 10, cols: d };
  assert.deepEqual(await warningsOf(() => index.add(again, ids(10, 'g'))), []);
});
