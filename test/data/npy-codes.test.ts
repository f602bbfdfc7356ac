import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readNpyCodes, writeNpyCodes } from '../../src/data/npy-codes.js';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import { quantizeEmbeddings } from '../../src/util/quantize.js';
import { readNpy } from '../../src/data/npy.js';
import { tmpDir } from '../helpers/tmp.js';
import { REPO_ROOT } from '../helpers/cli.js';

const FIX = path.join(REPO_ROOT, 'test/fixtures/index');

test('int8 and uint8 code files numpy wrote read back as the codes, and write byte for byte', async () => {
  const emb = await readNpy(path.join(FIX, 'quantize-embeddings.npy'));
  const calibration = await readNpy(path.join(FIX, 'quantize-calibration.npy'));
  const int8 = quantizeEmbeddings(emb, 'int8', { calibration });
  const ub = quantizeEmbeddings(emb, 'ubinary');
  const i1 = await readNpyCodes(path.join(FIX, 'i1.npy'));
  assert.equal(i1.dtype, 'int8');
  assert.ok(i1.data instanceof Int8Array);
  assert.deepEqual(Array.from(i1.data), Array.from(int8.data.subarray(0, 4 * emb.cols)));
  const u1 = await readNpyCodes(path.join(FIX, 'u1.npy'));
  assert.equal(u1.dtype, 'uint8');
  assert.deepEqual([u1.rows, u1.cols], [4, ub.cols]);
  assert.deepEqual(Array.from(u1.data), Array.from(ub.data.subarray(0, 4 * ub.cols)));
  const dir = tmpDir();
  for (const name of ['i1.npy', 'u1.npy']) {
    const codes = await readNpyCodes(path.join(FIX, name));
    const out = path.join(dir, name);
    await writeNpyCodes(out, codes);
    assert.deepEqual(await fs.readFile(out), await fs.readFile(path.join(FIX, name)));
  }
});

test('float arrays, truncation and shape mismatches are InputFormatErrors naming the file', async () => {
  await assert.rejects(
    readNpyCodes(path.join(FIX, 'f32.npy')),
    (e: unknown) =>
      e instanceof InputFormatError && /f32\.npy: unsupported dtype '<f4' for codes/.test(e.message),
  );
  const full = await fs.readFile(path.join(FIX, 'i1.npy'));
  const cut = path.join(tmpDir(), 'cut.npy');
  await fs.writeFile(cut, full.subarray(0, full.length - 3));
  await assert.rejects(readNpyCodes(cut), /cut\.npy: truncated \.npy data/);
  await assert.rejects(
    writeNpyCodes(cut, { dtype: 'uint8', data: new Uint8Array(5), rows: 2, cols: 3 }),
    InputFormatError,
  );
});

test('writeNpyCodes rejects a dtype it cannot write and a typed array of the other signedness', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'c.npy');
  // -1 in a Uint8Array-declared file would silently become 255.
  await assert.rejects(
    writeNpyCodes(out, {
      dtype: 'uint8',
      data: new Int8Array([-1, 2]) as unknown as Uint8Array,
      rows: 1,
      cols: 2,
    }),
    (e: unknown) =>
      e instanceof ArgumentError &&
      e.argument === 'data' &&
      /Uint8Array for dtype 'uint8', got Int8Array/.test(e.message),
  );
  await assert.rejects(
    writeNpyCodes(out, { dtype: 'int8', data: new Uint8Array([200]), rows: 1, cols: 1 }),
    (e: unknown) =>
      e instanceof ArgumentError && /Int8Array for dtype 'int8', got Uint8Array/.test(e.message),
  );
  await assert.rejects(
    writeNpyCodes(out, { dtype: 'int16' as 'int8', data: new Int8Array([1]), rows: 1, cols: 1 }),
    (e: unknown) =>
      e instanceof ArgumentError &&
      e.argument === 'dtype' &&
      /'int8' or 'uint8', got "int16"/.test(e.message),
  );
  await assert.rejects(
    writeNpyCodes(out, { dtype: 'int8', data: new Int8Array([1]), rows: 0.5, cols: 2 }),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'rows',
  );
  await assert.rejects(fs.access(out)); // nothing written
});

test('a float .npy read as codes is told to use readNpy', async () => {
  await assert.rejects(
    readNpyCodes(path.join(FIX, 'f32.npy')),
    (e: unknown) => e instanceof InputFormatError && /float vectors are read with readNpy/.test(e.message),
  );
});
