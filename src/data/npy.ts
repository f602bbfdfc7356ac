import { promises as fs } from 'node:fs';
import { InputFormatError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { Matrix } from '../types.js';
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
      if (!/^\d+$/.test(s)) throw new InputFormatError(`malformed .npy shape (${shape[1]})`, file);
      return Number(s);
    });
  return { descr: descr[1], fortran: fortran[1] === 'True', shape: dims };
}

/**
 * Read a 2-D float32, float64 or float16 C-order `.npy` file as a float32 {@link Matrix} (float64 is
 * narrowed, float16 widened exactly). Quantized int8/uint8 codes are read by `readNpyCodes`.
 * A 1-D array is read as one row. Bad magic, another dtype, Fortran order and a truncated file are
 * {@link InputFormatError}s naming the file.
 *
 * @example
 * ```ts
 * import { readNpy } from 'dense-retrieval';
 * const emb = await readNpy('corpus.npy'); // np.save('corpus.npy', emb.astype('float32'))
 * console.log(emb.rows, emb.cols);
 * ```
 */
export async function readNpy(file: string): Promise<Matrix> {
  const buf = await fs.readFile(file);
  if (buf.length < 10 || MAGIC.some((b, i) => buf[i] !== b)) {
    throw new InputFormatError('not a .npy file (bad magic; expected \\x93NUMPY)', file);
  }
  const major = buf[6];
  let headerLen: number;
  let offset: number;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    offset = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new InputFormatError('truncated .npy header', file);
    headerLen = buf.readUInt32LE(8);
    offset = 12;
  } else {
    throw new InputFormatError(`unsupported .npy format version ${major}.${buf[7]}`, file);
  }
  if (buf.length < offset + headerLen) throw new InputFormatError('truncated .npy header', file);
  const header = buf.subarray(offset, offset + headerLen).toString(major === 3 ? 'utf8' : 'latin1');
  const { descr, fortran, shape } = parseHeader(header, file);
  if (fortran) {
    throw new InputFormatError(
      'Fortran-order arrays are not supported; save with np.ascontiguousarray',
      file,
    );
  }
  let itemSize: number;
  if (descr === '<f4' || descr === '|f4') itemSize = 4;
  else if (descr === '<f8' || descr === '|f8') itemSize = 8;
  else if (descr === '<f2' || descr === '|f2') itemSize = 2;
  else {
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
  const count = rows * cols;
  const dataStart = offset + headerLen;
  const need = count * itemSize;
  if (buf.length - dataStart < need) {
    throw new InputFormatError(
      `truncated .npy data: shape (${shape.join(', ')}) needs ${need} bytes, file has ${buf.length - dataStart}`,
      file,
    );
  }
  const data = new Float32Array(count);
  // Copy through a DataView: the payload offset is not necessarily aligned for a typed-array view.
  const view = new DataView(buf.buffer, buf.byteOffset + dataStart, need);
  if (itemSize === 4) for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
  else if (itemSize === 2) for (let i = 0; i < count; i++) data[i] = halfToFloat(view.getUint16(i * 2, true));
  else for (let i = 0; i < count; i++) data[i] = view.getFloat64(i * 8, true);
  return { data, rows, cols };
}

/**
 * Write a {@link Matrix} as a numpy-readable `.npy` (format 1.0, C order), atomically: `<f4` by default;
 * with `dtype: 'float16'`, `<f2`, rounded to nearest even as numpy's `astype(np.float16)` (half the size;
 * about 3 significant digits, enough for embeddings, values beyond ±65504 become infinite).
 *
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
  if (m.data.length !== m.rows * m.cols) {
    throw new InputFormatError(
      `matrix data has ${m.data.length} values, expected rows*cols = ${m.rows * m.cols}`,
      file,
    );
  }
  const half = options.dtype === 'float16';
  let header = `{'descr': '${half ? '<f2' : '<f4'}', 'fortran_order': False, 'shape': (${m.rows}, ${m.cols}), }`;
  // numpy pads the header with spaces so that the data starts on a 64-byte boundary, ending in '\n'.
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = Buffer.alloc(10 + header.length + m.data.length * (half ? 2 : 4));
  MAGIC.forEach((b, i) => (out[i] = b));
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(header.length, 8);
  out.write(header, 10, 'latin1');
  const start = 10 + header.length;
  if (half) for (let i = 0; i < m.data.length; i++) out.writeUInt16LE(floatToHalf(m.data[i]), start + i * 2);
  else for (let i = 0; i < m.data.length; i++) out.writeFloatLE(m.data[i], start + i * 4);
  await writeFileAtomic(file, out);
}
