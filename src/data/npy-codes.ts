import { promises as fs } from 'node:fs';
import { ArgumentError, InputFormatError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { MAGIC, parseHeader } from './npy.js';

/**
 * `.npy` files of quantized embedding codes (int8 `|i1`, uint8 `|u1`), as sentence-transformers'
 * `quantize_embeddings` returns them and `np.save` writes them, so codes move between numpy, faiss
 * (`IndexBinaryFlat` takes the uint8 bytes) and dense-retrieval unchanged.
 */

/** A 2-D array of int8 or uint8 codes, row-major. */
export interface NpyCodes {
  dtype: 'int8' | 'uint8';
  data: Int8Array | Uint8Array;
  rows: number;
  cols: number;
}

/**
 * Read a 2-D (or 1-D, read as one row) int8 or uint8 C-order `.npy` file. Another dtype, Fortran order,
 * bad magic and truncation are {@link InputFormatError}s naming the file.
 *
 * @example
 * ```ts
 * import { readNpyCodes } from 'dense-retrieval';
 * const codes = await readNpyCodes('corpus-ubinary.npy'); // np.save(..., quantize_embeddings(e, 'ubinary'))
 * ```
 */
export async function readNpyCodes(file: string): Promise<NpyCodes> {
  const buf = await fs.readFile(file);
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b)) {
    throw new InputFormatError('not a .npy file (bad magic; expected \\x93NUMPY)', file);
  }
  const major = buf[6];
  if (major !== 1 && major !== 2 && major !== 3) {
    throw new InputFormatError(`unsupported .npy format version ${major}.${buf[7]}`, file);
  }
  if (major !== 1 && buf.length < 12) throw new InputFormatError('truncated .npy header', file);
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const offset = major === 1 ? 10 : 12;
  if (buf.length < offset + headerLen) throw new InputFormatError('truncated .npy header', file);
  const header = buf.subarray(offset, offset + headerLen).toString(major === 3 ? 'utf8' : 'latin1');
  const { descr, fortran, shape } = parseHeader(header, file);
  if (fortran) throw new InputFormatError('Fortran-order arrays are not supported', file);
  let dtype: 'int8' | 'uint8';
  if (descr === '|i1' || descr === '<i1') dtype = 'int8';
  else if (descr === '|u1' || descr === '<u1') dtype = 'uint8';
  else {
    const float = /^[|<]?f[248]$/.test(descr) ? '; float vectors are read with readNpy' : '';
    throw new InputFormatError(
      `unsupported dtype '${descr}' for codes; expected int8 ('|i1') or uint8 ('|u1')${float}`,
      file,
    );
  }
  if (shape.length !== 1 && shape.length !== 2) {
    throw new InputFormatError(`expected a 1-D or 2-D array, got shape (${shape.join(', ')})`, file);
  }
  const rows = shape.length === 2 ? shape[0] : 1;
  const cols = shape.length === 2 ? shape[1] : shape[0];
  const start = offset + headerLen;
  if (buf.length - start < rows * cols) {
    throw new InputFormatError(
      `truncated .npy data: shape (${shape.join(', ')}) needs ${rows * cols} bytes, file has ${buf.length - start}`,
      file,
    );
  }
  const bytes = Uint8Array.from(buf.subarray(start, start + rows * cols));
  const data = dtype === 'int8' ? new Int8Array(bytes.buffer) : bytes;
  return { dtype, data, rows, cols };
}

/**
 * Write int8 or uint8 codes as a numpy-readable `.npy` (format 1.0, `|i1` / `|u1`, C order), atomically.
 *
 * @throws {ArgumentError} when `dtype` is not `'int8'`/`'uint8'`, `data` is not the matching typed array
 *   (`Int8Array` for int8, `Uint8Array` for uint8) or `rows`/`cols` are not non-negative integers;
 *   {@link InputFormatError} when `data` does not hold `rows * cols` values.
 * @example
 * ```ts
 * import { quantizeEmbeddings, writeNpyCodes } from 'dense-retrieval';
 * const q = quantizeEmbeddings(emb, 'int8', { calibration });
 * await writeNpyCodes('corpus-int8.npy', { dtype: 'int8', data: q.data, rows: q.rows, cols: q.cols });
 * ```
 */
export async function writeNpyCodes(file: string, codes: NpyCodes): Promise<void> {
  const { rows, cols, data, dtype } = codes ?? ({} as Partial<NpyCodes>);
  if (dtype !== 'int8' && dtype !== 'uint8') {
    throw new ArgumentError('dtype', `must be 'int8' or 'uint8', got ${JSON.stringify(dtype)}`);
  }
  // A typed array of the other signedness would be written byte for byte under the wrong descr (-1 as 255).
  const want = dtype === 'int8' ? Int8Array : Uint8Array;
  if (!(data instanceof want)) {
    const got = ArrayBuffer.isView(data) ? data.constructor.name : typeof data;
    throw new ArgumentError('data', `must be ${want.name} for dtype '${dtype}', got ${got}`);
  }
  for (const [name, v] of [
    ['rows', rows],
    ['cols', cols],
  ] as const) {
    if (!Number.isSafeInteger(v) || (v as number) < 0) {
      throw new ArgumentError(name, `must be a non-negative integer, got ${String(v)}`);
    }
  }
  if (data.length !== rows * cols) {
    throw new InputFormatError(`codes have ${data.length} values, expected rows*cols = ${rows * cols}`, file);
  }
  const descr = codes.dtype === 'int8' ? '|i1' : '|u1';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  // numpy pads the header with spaces so that the data starts on a 64-byte boundary, ending in '\n'.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = Buffer.alloc(10 + header.length + data.length);
  MAGIC.forEach((b, i) => (out[i] = b));
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  await writeFileAtomic(file, out);
}
