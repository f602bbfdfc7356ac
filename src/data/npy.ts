import { promises as fs } from 'node:fs';
import os from 'node:os';
import { ArgumentError, InputFormatError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { Matrix } from '../types.js';
import { checkMatrixShape } from '../util/matrix.js';
import { parseInteger } from '../util/number.js';
import { floatToHalf, halfToFloat } from './float16.js';

/**
 * NumPy `.npy` reading and writing for 2-D float matrices (embeddings), so vectors move between
 * dense-retrieval and numpy/faiss without a conversion step. Written by hand because the format is a few
 * lines (a magic string, a Python-literal header, raw little-endian data) and the npm readers we looked at
 * either pull in heavy dependencies or do not check truncation and Fortran order.
 */

export const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function parseHeader(
  header: string,
  file: string,
): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) {
    throw new InputFormatError(`malformed .npy header: ${header.trim()}`, file);
  }
  const dims = shape[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => {
      const n = /^\d+$/.test(s) ? parseInteger(s) : undefined;
      if (n === undefined) throw new InputFormatError(`malformed .npy shape (${shape[1]})`, file);
      return n;
    });
  return { descr: descr[1], fortran: fortran[1] === 'True', shape: dims };
}

/** Where the data of a `.npy` file is and what it holds, from its header only. */
export interface NpyInfo {
  /** Rows (a 1-D array is one row). */
  rows: number;
  cols: number;
  /**
   * Bytes per stored value: 4 for float32, 8 for float64 (narrowed to float32 on reading), 2 for float16
   * (widened exactly).
   */
  itemSize: 2 | 4 | 8;
  /** Byte offset of the first value. */
  dataStart: number;
}

/** Bytes per read call: bounded so no call nears the 2 GiB I/O limit, and float64 scratch stays small. */
const CHUNK_BYTES = 16 * 1024 * 1024;

/** Fill `target` from `position` of the open file; a short read is a truncated file. */
async function readFully(
  handle: fs.FileHandle,
  target: Uint8Array,
  position: number,
  file: string,
): Promise<void> {
  for (let o = 0; o < target.byteLength;) {
    const len = Math.min(CHUNK_BYTES, target.byteLength - o);
    const { bytesRead } = await handle.read(target, o, len, position + o);
    if (bytesRead === 0) throw new InputFormatError('truncated .npy data (file shrank while reading)', file);
    o += bytesRead;
  }
}

async function readInfo(handle: fs.FileHandle, file: string): Promise<NpyInfo> {
  const size = (await handle.stat()).size;
  const fixed = Buffer.alloc(12);
  await readFully(handle, fixed.subarray(0, Math.min(12, size)), 0, file);
  if (size < 10 || MAGIC.some((b, i) => fixed[i] !== b)) {
    throw new InputFormatError('not a .npy file (bad magic; expected \\x93NUMPY)', file);
  }
  const major = fixed[6];
  let headerLen: number;
  let offset: number;
  if (major === 1) {
    headerLen = fixed.readUInt16LE(8);
    offset = 10;
  } else if (major === 2 || major === 3) {
    if (size < 12) throw new InputFormatError('truncated .npy header', file);
    headerLen = fixed.readUInt32LE(8);
    offset = 12;
  } else {
    throw new InputFormatError(`unsupported .npy format version ${major}.${fixed[7]}`, file);
  }
  // Compared with the file size before anything of that length is allocated.
  if (size < offset + headerLen) throw new InputFormatError('truncated .npy header', file);
  const raw = Buffer.alloc(headerLen);
  await readFully(handle, raw, offset, file);
  const header = raw.toString(major === 3 ? 'utf8' : 'latin1');
  const { descr, fortran, shape } = parseHeader(header, file);
  if (fortran) {
    throw new InputFormatError(
      'Fortran-order arrays are not supported; save with np.ascontiguousarray',
      file,
    );
  }
  let itemSize: 2 | 4 | 8;
  if (descr === '<f4' || descr === '|f4') itemSize = 4;
  else if (descr === '<f8' || descr === '|f8') itemSize = 8;
  else if (descr === '<f2' || descr === '|f2') itemSize = 2;
  else if (/^>f[248]$/.test(descr)) {
    throw new InputFormatError(
      `unsupported dtype '${descr}' (big-endian); save it little-endian (numpy: arr.astype('<f4'))`,
      file,
    );
  } else if (/^[|<>]?[iu]1$/.test(descr)) {
    throw new InputFormatError(
      `holds quantized ${descr.endsWith('i1') ? 'int8' : 'uint8'} codes ('${descr}'), not float vectors; read it with readNpyCodes (indexes take float32 vectors, documents and queries: encode without --precision; the int8 and binary indexes quantize them themselves)`,
      file,
    );
  } else {
    throw new InputFormatError(
      `unsupported dtype '${descr}'; expected little-endian float32 ('<f4'), float64 ('<f8') or float16 ('<f2')`,
      file,
    );
  }
  if (shape.length !== 1 && shape.length !== 2) {
    throw new InputFormatError(`expected a 1-D or 2-D array, got shape (${shape.join(', ')})`, file);
  }
  const rows = shape.length === 2 ? shape[0] : 1;
  const cols = shape.length === 2 ? shape[1] : shape[0];
  const dataStart = offset + headerLen;
  const need = rows * cols * itemSize;
  if (!Number.isSafeInteger(need) || size - dataStart < need) {
    throw new InputFormatError(
      `truncated .npy data: shape (${shape.join(', ')}) needs ${need} bytes, file has ${size - dataStart}`,
      file,
    );
  }
  return { rows, cols, itemSize, dataStart };
}

/**
 * The shape and dtype of a `.npy` file, from its header only (the data is not read). Errors as
 * {@link readNpy}, including a file too short for its stated shape.
 *
 * @example
 * ```ts
 * import { readNpyInfo } from 'dense-retrieval';
 * const { rows, cols } = await readNpyInfo('corpus.npy');
 * ```
 */
export async function readNpyInfo(file: string): Promise<NpyInfo> {
  const handle = await fs.open(file, 'r');
  try {
    return await readInfo(handle, file);
  } finally {
    await handle.close();
  }
}

async function readRowsFrom(
  handle: fs.FileHandle,
  info: NpyInfo,
  start: number,
  end: number,
  file: string,
): Promise<Matrix> {
  const { cols, itemSize, dataStart } = info;
  const count = (end - start) * cols;
  let data: Float32Array;
  try {
    data = new Float32Array(count);
  } catch {
    throw new InputFormatError(`cannot allocate ${count} float32 values for rows ${start}..${end}`, file);
  }
  const position = dataStart + start * cols * itemSize;
  if (itemSize === 4 && os.endianness() === 'LE') {
    // Straight into the result's own (aligned) buffer: no second copy of a multi-GiB matrix.
    const total = data.byteLength;
    for (let o = 0; o < total; o += CHUNK_BYTES) {
      const part = new Uint8Array(data.buffer, o, Math.min(CHUNK_BYTES, total - o));
      await readFully(handle, part, position + o, file);
    }
  } else {
    const scratch = Buffer.alloc(Math.min(CHUNK_BYTES, count * itemSize));
    const perChunk = Math.floor(scratch.byteLength / itemSize);
    for (let i = 0; i < count; i += perChunk) {
      const n = Math.min(perChunk, count - i);
      await readFully(handle, scratch.subarray(0, n * itemSize), position + i * itemSize, file);
      if (itemSize === 4) for (let j = 0; j < n; j++) data[i + j] = scratch.readFloatLE(j * 4);
      else if (itemSize === 2)
        for (let j = 0; j < n; j++) data[i + j] = halfToFloat(scratch.readUInt16LE(j * 2));
      else for (let j = 0; j < n; j++) data[i + j] = scratch.readDoubleLE(j * 8);
    }
  }
  return { data, rows: end - start, cols };
}

function checkRowRange(info: NpyInfo, start: number, end: number): void {
  if (!Number.isInteger(start) || start < 0 || start > info.rows) {
    throw new ArgumentError('start', `must be an integer in [0, ${info.rows}], got ${start}`);
  }
  if (!Number.isInteger(end) || end < start || end > info.rows) {
    throw new ArgumentError('end', `must be an integer in [${start}, ${info.rows}], got ${end}`);
  }
}

/**
 * Read a 2-D float32, float64 or float16 C-order `.npy` file as a float32 {@link Matrix} (float64 is
 * narrowed, float16 widened exactly). A 1-D array is read as one row. Bad magic, another dtype, Fortran
 * order and a truncated file are {@link InputFormatError}s naming the file; an int8/uint8 file's error
 * says to read it with `readNpyCodes`. The file is read by handle in chunks, so files past 2 GiB
 * load (the matrix must fit in memory: at most 2^32 float32 values; use {@link readNpyBlocks} otherwise).
 *
 * @example
 * ```ts
 * import { readNpy } from 'dense-retrieval';
 * const emb = await readNpy('corpus.npy'); // np.save('corpus.npy', emb.astype('float32'))
 * console.log(emb.rows, emb.cols);
 * ```
 */
export async function readNpy(file: string): Promise<Matrix> {
  const handle = await fs.open(file, 'r');
  try {
    const info = await readInfo(handle, file);
    return await readRowsFrom(handle, info, 0, info.rows, file);
  } finally {
    await handle.close();
  }
}

/**
 * Rows `[start, end)` of a `.npy` matrix, reading only their bytes (a row range of a file of any size).
 *
 * @throws {ArgumentError} when the range is outside `[0, rows]`; {@link InputFormatError} as {@link readNpy}.
 * @example
 * ```ts
 * import { readNpyRows } from 'dense-retrieval';
 * const firstThousand = await readNpyRows('corpus.npy', 0, 1000);
 * ```
 */
export async function readNpyRows(file: string, start: number, end: number): Promise<Matrix> {
  const handle = await fs.open(file, 'r');
  try {
    const info = await readInfo(handle, file);
    checkRowRange(info, start, end);
    return await readRowsFrom(handle, info, start, end, file);
  } finally {
    await handle.close();
  }
}

/**
 * The rows of a `.npy` matrix in consecutive blocks of at most `rowsPerBlock` rows, each read when the
 * iteration reaches it, so a matrix larger than memory can be streamed (memory: one block).
 *
 * @throws {ArgumentError} for a `rowsPerBlock` that is not a positive integer; {@link InputFormatError} as
 *   {@link readNpy}.
 * @example
 * ```ts
 * import { readNpyBlocks } from 'dense-retrieval';
 * for await (const { start, matrix } of readNpyBlocks('corpus.npy', 65536)) {
 *   await index.add(matrix, ids.slice(start, start + matrix.rows));
 * }
 * ```
 */
export async function* readNpyBlocks(
  file: string,
  rowsPerBlock: number,
): AsyncGenerator<{ start: number; matrix: Matrix }> {
  if (!Number.isInteger(rowsPerBlock) || rowsPerBlock < 1) {
    throw new ArgumentError('rowsPerBlock', `must be a positive integer, got ${rowsPerBlock}`);
  }
  const handle = await fs.open(file, 'r');
  try {
    const info = await readInfo(handle, file);
    for (let start = 0; start < info.rows; start += rowsPerBlock) {
      const end = Math.min(info.rows, start + rowsPerBlock);
      yield { start, matrix: await readRowsFrom(handle, info, start, end, file) };
    }
  } finally {
    await handle.close();
  }
}

/**
 * The preamble and header of a format-1.0 `.npy` holding a C-order little-endian float32 `[rows, cols]`
 * array, padded as numpy pads it (data starts on a 64-byte boundary): for writers that stream the rows.
 */
export function npyFloat32Header(rows: number, cols: number): Buffer {
  return npyHeader('<f4', rows, cols);
}

function npyHeader(descr: '<f4' | '<f2', rows: number, cols: number): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = Buffer.alloc(10 + header.length);
  MAGIC.forEach((b, i) => (out[i] = b));
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  return out;
}

/** The `dtype` values {@link writeNpy} accepts. */
const NPY_FLOAT_DTYPES = ['float32', 'float16'] as const;

/**
 * Write a {@link Matrix} as a numpy-readable `.npy` (format 1.0, C order), atomically: `<f4` by default;
 * with `dtype: 'float16'`, `<f2`, rounded to nearest even as numpy's `astype(np.float16)` (half the size;
 * about 3 significant digits, enough for embeddings, values beyond ±65504 become infinite).
 *
 * @throws {ArgumentError} for a `dtype` other than `'float32'` / `'float16'` (int8/uint8 codes are written
 *   by `writeNpyCodes`) or a malformed matrix.
 * @example
 * ```ts
 * import { writeNpy } from 'dense-retrieval';
 * await writeNpy('emb.npy', { data: new Float32Array([1, 2, 3, 4]), rows: 2, cols: 2 });
 * // python: np.load('emb.npy').shape == (2, 2)
 * ```
 */
export async function writeNpy(
  file: string,
  m: Matrix,
  options: { dtype?: 'float32' | 'float16' } = {},
): Promise<void> {
  if (m?.data instanceof Float32Array && m.data.length !== m.rows * m.cols) {
    throw new InputFormatError(
      `matrix data has ${m.data.length} values, expected rows*cols = ${m.rows * m.cols}`,
      file,
    );
  }
  checkMatrixShape('m', m);
  const dtype = (options as { dtype?: unknown } | undefined)?.dtype;
  if (dtype !== undefined && !NPY_FLOAT_DTYPES.includes(dtype as 'float32')) {
    throw new ArgumentError(
      'dtype',
      `must be one of ${NPY_FLOAT_DTYPES.map((d) => `'${d}'`).join(', ')}, got ${JSON.stringify(dtype)}` +
        (dtype === 'int8' || dtype === 'uint8' ? ' (quantized codes are written by writeNpyCodes)' : ''),
    );
  }
  const half = dtype === 'float16';
  const head = npyHeader(half ? '<f2' : '<f4', m.rows, m.cols);
  const data = m.data;
  function* chunks(): Generator<Uint8Array> {
    yield head;
    // Streamed in chunks: one buffer of the whole file would double the memory and stop at 4 GiB.
    const perChunk = CHUNK_BYTES / 4;
    for (let i = 0; i < data.length; i += perChunk) {
      const n = Math.min(perChunk, data.length - i);
      if (half) {
        const out = Buffer.alloc(n * 2);
        for (let j = 0; j < n; j++) out.writeUInt16LE(floatToHalf(data[i + j]), j * 2);
        yield out;
      } else if (os.endianness() === 'LE') {
        yield new Uint8Array(data.buffer, data.byteOffset + i * 4, n * 4);
      } else {
        const out = Buffer.alloc(n * 4);
        for (let j = 0; j < n; j++) out.writeFloatLE(data[i + j], j * 4);
        yield out;
      }
    }
  }
  await writeFileAtomic(file, chunks());
}
