import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readNpy, writeNpy } from '../../src/data/npy.js';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import { writeNpyCodes, type NpyCodes } from '../../src/data/npy-codes.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const FIX = path.join(REPO_ROOT, 'test/fixtures/index');
const expected = Array.from({ length: 12 }, (_, i) => Math.fround(i / 7));

test('reads numpy-written float32 and float64 (narrowed) C-order arrays', async () => {
  for (const name of ['f32.npy', 'f64.npy']) {
    const m = await readNpy(path.join(FIX, name));
    assert.equal(m.rows, 3);
    assert.equal(m.cols, 4);
    assert.deepEqual(Array.from(m.data), expected);
  }
});

test('a 1-D array is one row', async () => {
  const m = await readNpy(path.join(FIX, 'vec1d.npy'));
  assert.deepEqual([m.rows, m.cols, ...m.data], [1, 3, 1.5, -2, 3.25]);
});

test('rejects Fortran order, other dtypes, big-endian, bad magic and truncation, naming the file', async () => {
  const cases: [string, RegExp][] = [
    ['fortran.npy', /fortran\.npy: Fortran-order arrays are not supported/],
    ['int32.npy', /int32\.npy: unsupported dtype '<i4'/],
    ['big-endian.npy', /big-endian\.npy: unsupported dtype '>f4' \(big-endian\); save it little-endian/],
  ];
  for (const [name, re] of cases) {
    await assert.rejects(
      readNpy(path.join(FIX, name)),
      (e: unknown) => e instanceof InputFormatError && re.test(e.message),
    );
  }
  const dir = tmpDir();
  const bad = path.join(dir, 'bad.npy');
  await fs.writeFile(bad, 'hello world, not numpy');
  await assert.rejects(readNpy(bad), /bad\.npy: not a \.npy file \(bad magic/);
  const full = await fs.readFile(path.join(FIX, 'f32.npy'));
  const cut = path.join(dir, 'cut.npy');
  await fs.writeFile(cut, full.subarray(0, full.length - 5));
  await assert.rejects(
    readNpy(cut),
    /cut\.npy: truncated \.npy data: shape \(3, 4\) needs 48 bytes, file has 43/,
  );
  await fs.writeFile(cut, full.subarray(0, 30));
  await assert.rejects(readNpy(cut), /cut\.npy: truncated \.npy header/);
});

test('writeNpy round-trips and matches the bytes numpy writes', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'out.npy');
  await writeNpy(file, { data: Float32Array.from(expected), rows: 3, cols: 4 });
  const back = await readNpy(file);
  assert.deepEqual(Array.from(back.data), expected);
  // numpy's own file for the same array is byte-identical (header layout and padding included).
  assert.deepEqual(await fs.readFile(file), await fs.readFile(path.join(FIX, 'f32.npy')));
  assert.deepEqual(
    (await fs.readdir(dir)).filter((f) => f.includes('.tmp-')),
    [],
    'no temporary files left behind',
  );
});

test('writeNpy rejects a matrix whose data does not match its shape', async () => {
  const file = path.join(tmpDir(), 'x.npy');
  await assert.rejects(
    writeNpy(file, { data: new Float32Array(5), rows: 2, cols: 3 }),
    /x\.npy: matrix data has 5 values, expected rows\*cols = 6/,
  );
});

test('writeNpy rejects an unsupported dtype instead of writing <f4 under it', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'm.npy');
  const m = { data: new Float32Array([1, 2]), rows: 1, cols: 2 };
  for (const dtype of ['int8', 'float64', 'f2']) {
    await assert.rejects(
      writeNpy(out, m, { dtype: dtype as 'float16' }),
      (e: unknown) =>
        e instanceof ArgumentError &&
        e.argument === 'dtype' &&
        /must be one of 'float32', 'float16'/.test(e.message) &&
        (dtype !== 'int8' || /writeNpyCodes/.test(e.message)),
    );
  }
  await assert.rejects(fs.access(out));
  await writeNpy(out, m, { dtype: 'float32' });
  assert.deepEqual(Array.from((await readNpy(out)).data), [1, 2]);
});

test('readNpy on an int8/uint8 codes file says to use readNpyCodes', async () => {
  const dir = tmpDir();
  for (const [dtype, data] of [
    ['int8', new Int8Array([-1, 2])],
    ['uint8', new Uint8Array([1, 2])],
  ] as const) {
    const out = path.join(dir, `${dtype}.npy`);
    await writeNpyCodes(out, { dtype, data, rows: 1, cols: 2 } as NpyCodes);
    await assert.rejects(
      readNpy(out),
      (e: unknown) =>
        e instanceof InputFormatError &&
        new RegExp(`${dtype}\\.npy: holds quantized ${dtype} codes .*readNpyCodes`).test(e.message),
    );
  }
});
