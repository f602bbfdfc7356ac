import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readNpy, readNpyBlocks, readNpyInfo, readNpyRows } from '../../src/data/npy.js';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';

/*
 * A .npy past 2 GiB (where fs.readFile stops) made sparse: the header and a few rows are written, the file is
 * extended with ftruncate, so it takes almost no disk and the test needs no 2 GiB of memory: it reads row
 * ranges and streams blocks, never the whole matrix.
 */

const ROWS = 8_500_000;
const COLS = 64;

function npyHeader(rows: number, cols: number): Buffer {
  // Written here, independently of writeNpy: numpy's 1.0 layout, data aligned to 64 bytes.
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  dict += ' '.repeat((64 - ((10 + dict.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.alloc(10 + dict.length);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
  head.writeUInt16LE(dict.length, 8);
  head.write(dict, 10, 'latin1');
  return head;
}

const row = (r: number): Float32Array => Float32Array.from({ length: COLS }, (_, j) => r + j / 64);

test('a sparse > 2 GiB .npy: header, row ranges past 2 GiB, and block streaming, without loading it whole', async () => {
  const file = path.join(tmpDir(), 'big.npy');
  const head = npyHeader(ROWS, COLS);
  const rowBytes = COLS * 4;
  const size = head.length + ROWS * rowBytes;
  assert.ok(size > 2 ** 31, `${size} bytes is past 2 GiB`);
  const written = [0, 1, 2, ROWS - 2, ROWS - 1];
  const handle = await fs.open(file, 'w');
  try {
    await handle.write(head, 0, head.length, 0);
    for (const r of written) {
      const v = row(r);
      await handle.write(new Uint8Array(v.buffer), 0, rowBytes, head.length + r * rowBytes);
    }
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
  assert.deepEqual(await readNpyInfo(file), { rows: ROWS, cols: COLS, itemSize: 4, dataStart: head.length });
  const first = await readNpyRows(file, 0, 3);
  assert.deepEqual([first.rows, first.cols], [3, COLS]);
  assert.deepEqual(first.data, Float32Array.from([...row(0), ...row(1), ...row(2)]));
  const last = await readNpyRows(file, ROWS - 2, ROWS); // bytes beyond 2^31
  assert.deepEqual(last.data, Float32Array.from([...row(ROWS - 2), ...row(ROWS - 1)]));
  const middle = await readNpyRows(file, 4_000_000, 4_000_010);
  assert.ok(middle.data.every((x) => x === 0));
  assert.equal((await readNpyRows(file, 5, 5)).rows, 0);
  await assert.rejects(readNpyRows(file, 0, ROWS + 1), ArgumentError);
  await assert.rejects(readNpyRows(file, 3, 2), ArgumentError);

  // Streamed in blocks: each block is read when reached; memory is one block (here 16 MiB).
  let rows = 0;
  let blocks = 0;
  let lastBlock: Float32Array | undefined;
  for await (const { start, matrix } of readNpyBlocks(file, 65536)) {
    assert.equal(start, rows);
    if (start === 0) assert.deepEqual(matrix.data.subarray(0, COLS), row(0));
    rows += matrix.rows;
    blocks++;
    lastBlock = matrix.data;
  }
  assert.equal(rows, ROWS);
  assert.equal(blocks, Math.ceil(ROWS / 65536));
  assert.deepEqual(lastBlock!.subarray(lastBlock!.length - COLS), row(ROWS - 1));

  // The same file cut short by one byte: the stated shape is checked against the size, before reading.
  await fs.truncate(file, size - 1);
  await assert.rejects(
    readNpyInfo(file),
    (e: unknown) =>
      e instanceof InputFormatError &&
      /truncated \.npy data: shape \(8500000, 64\) needs 2176000000 bytes/.test(e.message),
  );
  await fs.rm(file);
});

test('a shape far beyond the file (2^50 and 2^60 rows) is refused before any allocation', async () => {
  const file = path.join(tmpDir(), 'huge.npy');
  await fs.writeFile(file, npyHeader(2 ** 50, 64));
  await assert.rejects(
    readNpyRows(file, 0, 1),
    /truncated \.npy data: shape \(\d+, 64\) needs \d+ bytes, file has 0/,
  );
  // 2^60 is past the integers a double holds exactly: the shape itself is refused.
  const beyond = path.join(tmpDir(), 'beyond.npy');
  await fs.writeFile(beyond, npyHeader(2 ** 60, 64));
  await assert.rejects(readNpyRows(beyond, 0, 1), /malformed \.npy shape \(\d+, 64\)/);
  await assert.rejects(readNpyBlocks(file, 10).next(), /truncated \.npy data/);
  await assert.rejects(readNpyBlocks(file, 0).next(), /rowsPerBlock: must be a positive integer, got 0/);
});

test('float64 files are narrowed correctly across read chunks (16 MiB) and from a row offset', async () => {
  const rows = 1_100_000;
  const cols = 2; // 17.6 MB of float64: two read chunks, the boundary inside a row pair
  let dict = `{'descr': '<f8', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  dict += ' '.repeat((64 - ((10 + dict.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.alloc(10 + dict.length);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
  head.writeUInt16LE(dict.length, 8);
  head.write(dict, 10, 'latin1');
  const values = Float64Array.from({ length: rows * cols }, (_, i) => i / 7);
  const file = path.join(tmpDir(), 'f64.npy');
  await fs.writeFile(file, Buffer.concat([head, new Uint8Array(values.buffer)]));
  const m = await readNpy(file);
  assert.deepEqual([m.rows, m.cols], [rows, cols]);
  let wrong = 0;
  for (let i = 0; i < values.length; i++) if (m.data[i] !== Math.fround(values[i])) wrong++;
  assert.equal(wrong, 0);
  const part = await readNpyRows(file, 1_048_570, 1_048_580); // rows around the 16 MiB boundary
  assert.deepEqual(part.data, m.data.slice(1_048_570 * cols, 1_048_580 * cols));
});
