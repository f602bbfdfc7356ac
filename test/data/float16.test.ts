import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { halfToFloat, floatToHalf } from '../../src/data/float16.js';
import { readNpy, writeNpy } from '../../src/data/npy.js';
import { tmpDir } from '../helpers/tmp.js';
import { REPO_ROOT } from '../helpers/cli.js';

const FIX = path.join(REPO_ROOT, 'test/fixtures/index');

test('writeNpy float16 writes the bytes numpy writes (ties to even, subnormals, overflow to inf)', async () => {
  const src = await readNpy(path.join(FIX, 'f16-source.npy'));
  const out = path.join(tmpDir(), 'h.npy');
  await writeNpy(out, src, { dtype: 'float16' });
  assert.deepEqual(await fs.readFile(out), await fs.readFile(path.join(FIX, 'f16.npy')));
});

test('readNpy widens numpy float16 exactly', async () => {
  const half = await readNpy(path.join(FIX, 'f16.npy'));
  const src = await readNpy(path.join(FIX, 'f16-source.npy'));
  assert.equal(half.rows, src.rows);
  assert.equal(half.cols, src.cols);
  // Every half value is a float32: converting back gives the same bits numpy wrote.
  for (let i = 0; i < src.data.length; i++) {
    assert.equal(floatToHalf(half.data[i]), floatToHalf(src.data[i]), `value ${i}`);
    const err = Math.abs(half.data[i] - src.data[i]);
    if (Number.isFinite(half.data[i]))
      assert.ok(err <= Math.abs(src.data[i]) * 2 ** -11 + 2 ** -25, `value ${i}`);
  }
});

test('every finite half round-trips through float32', () => {
  for (let h = 0; h < 0x10000; h++) {
    const x = halfToFloat(h);
    if (Number.isNaN(x)) continue;
    assert.equal(floatToHalf(x), h, `bits ${h.toString(16)}`);
  }
});
