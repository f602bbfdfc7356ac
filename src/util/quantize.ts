import { ArgumentError } from '../errors.js';
import type { Matrix } from '../types.js';

/**
 * Embedding quantization with the semantics of sentence-transformers' `quantize_embeddings`
 * (`sentence_transformers/quantization.py`): scalar int8/uint8 codes from per-dimension ranges, and
 * binary codes (the sign bit, packed 8 per byte).
 */

/** Code precisions of {@link quantizeEmbeddings}, named as in sentence-transformers. */
export type Precision = 'int8' | 'uint8' | 'binary' | 'ubinary';

/** Per-dimension `[min, max]` ranges of scalar quantization (ST's `ranges`, a `(2, dim)` array). */
export interface QuantizationRanges {
  min: Float32Array;
  max: Float32Array;
}

/** Options of {@link quantizeEmbeddings}. */
export interface QuantizeOptions {
  /** int8/uint8 only: the ranges to use (takes precedence over `calibration`). */
  ranges?: QuantizationRanges;
  /**
   * int8/uint8 only: embeddings the ranges are computed from (per-dimension min and max). More and more
   * representative calibration vectors = fewer values clipped at quantization time; without either option
   * the ranges come from the embeddings being quantized, which ST warns against for fewer than 100 rows.
   */
  calibration?: Matrix;
}

/**
 * Quantized embeddings: `rows` codes of `cols` bytes each, row-major. For int8/uint8 `cols = dim`; for
 * binary/ubinary `cols = ceil(dim / 8)`.
 */
export interface QuantizedEmbeddings {
  precision: Precision;
  data: Int8Array | Uint8Array;
  rows: number;
  cols: number;
  /** The vector dimension the codes were made from. */
  dim: number;
  /** int8/uint8: the ranges used (save them to quantize queries the same way). */
  ranges?: QuantizationRanges;
}

/** Per-dimension min and max of `calibration` (ST: `np.vstack((min(axis=0), max(axis=0)))`). */
export function calibrationRanges(calibration: Matrix): QuantizationRanges {
  const { rows, cols, data } = calibration;
  if (rows < 1) throw new ArgumentError('calibration', 'needs at least one row');
  if (data.length !== rows * cols) {
    throw new ArgumentError('calibration', `has ${data.length} values, expected rows*cols = ${rows * cols}`);
  }
  const min = new Float32Array(cols).fill(Infinity);
  const max = new Float32Array(cols).fill(-Infinity);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      const x = data[r * cols + j];
      if (!Number.isFinite(x)) throw new ArgumentError('calibration', `row ${r} holds a non-finite value`);
      if (x < min[j]) min[j] = x;
      if (x > max[j]) max[j] = x;
    }
  }
  return { min, max };
}

/**
 * The scalar quantizer of given ranges, in float32 arithmetic step by step as numpy does it on float32
 * arrays: `steps = (max - min) / 255`, `t = (x - min) / steps`, uint8 code `trunc(t)`, int8 code
 * `trunc(t - 128)` (numpy's `astype` truncates toward zero).
 */
export class ScalarQuantizer {
  readonly dim: number;
  readonly min: Float32Array;
  readonly max: Float32Array;
  /** float32 bucket widths, `(max - min) / 255`. */
  readonly steps: Float32Array;

  constructor(ranges: QuantizationRanges) {
    const { min, max } = ranges;
    if (min.length !== max.length || min.length === 0) {
      throw new ArgumentError('ranges', `min has ${min.length} values, max ${max.length}`);
    }
    this.dim = min.length;
    this.min = Float32Array.from(min);
    this.max = Float32Array.from(max);
    this.steps = new Float32Array(this.dim);
    for (let j = 0; j < this.dim; j++) {
      if (!(min[j] <= max[j]) || !Number.isFinite(min[j]) || !Number.isFinite(max[j])) {
        throw new ArgumentError(
          'ranges',
          `dimension ${j}: need finite min <= max, got [${min[j]}, ${max[j]}]`,
        );
      }
      this.steps[j] = Math.fround(Math.fround(max[j] - min[j]) / 255);
    }
  }

  /**
   * The bucket position `t` of `x` in dimension `j`, in [0, 255] inside the range. A constant dimension
   * (step 0) maps to 0, where numpy would produce NaN and an undefined cast.
   */
  position(x: number, j: number): number {
    const step = this.steps[j];
    if (step === 0) return 0;
    return Math.fround(Math.fround(x - this.min[j]) / step);
  }

  /**
   * int8 code of `x` in dimension `j`. Values outside the range are clamped to [-128, 127] (numpy's
   * cast of an out-of-range float is undefined behaviour, in practice a wrap-around).
   */
  int8(x: number, j: number): number {
    const c = Math.trunc(Math.fround(this.position(x, j) - 128));
    return c < -128 ? -128 : c > 127 ? 127 : c;
  }

  /** uint8 code of `x` in dimension `j`, clamped to [0, 255] outside the range. */
  uint8(x: number, j: number): number {
    const c = Math.trunc(this.position(x, j));
    return c < 0 ? 0 : c > 255 ? 255 : c;
  }

  /**
   * int8 code with uniform buckets: ST's uint8 code minus 128 (`floor(t) - 128`, faiss's `QT_8bit`
   * layout). Every code then holds a bucket of width one step, where {@link int8}'s truncation toward zero
   * merges two buckets into code 0 and leaves 127 reachable only at the range's top (255 codes in use), so
   * its dequantized values are coarser exactly where embeddings are densest. {@link Int8Index} stores these.
   */
  int8Floor(x: number, j: number): number {
    return this.uint8(x, j) - 128;
  }

  /**
   * The value an int8 code stands for: the middle of the positions `t` that {@link int8} maps to it.
   * Because the code truncates `t - 128` toward zero, the buckets are not uniform: code `c > 0` holds
   * `t` in [c + 128, c + 129), `c < 0` holds (c + 127, c + 128], and 0 holds (127, 129) (twice as wide);
   * so the middle is `c + 128.5`, `c + 127.5` and 128. The ends are the range's ends: -128 is only
   * reached at `t <= 0` (min, or clamped) and 127 at `t >= 255` (max, or clamped).
   */
  dequantizeInt8(code: number, j: number): number {
    return this.min[j] + this.steps[j] * TRUNC_MIDDLES[code + 128];
  }
}

/**
 * Bucket middles, as positions `t` in [0, 255], of the 256 int8 codes (index `code + 128`) under either
 * formula: `'floor'` ({@link ScalarQuantizer.int8Floor}: `code + 128.5`) or `'trunc'` (ST's {@link ScalarQuantizer.int8}, see
 * {@link ScalarQuantizer.dequantizeInt8}). The value is `min + step * middle`.
 */
export function int8BucketMiddles(formula: 'floor' | 'trunc'): Float64Array {
  const out = new Float64Array(256);
  for (let c = -128; c <= 127; c++) {
    if (formula === 'floor') out[c + 128] = c + 128.5;
    else out[c + 128] = c === 0 ? 128 : c <= -128 ? 0 : c >= 127 ? 255 : c > 0 ? c + 128.5 : c + 127.5;
  }
  return out;
}

/**
 * Pack the sign bits (`x > 0`) of each row, 8 per byte, most significant bit first (numpy's `packbits`
 * with its default big-endian bit order). A dimension that is not a multiple of 8 is padded per row
 * with zero bits (as `np.packbits(axis=-1)`; ST packs the flattened array, which mixes rows then).
 */
export function packSignBits(m: Matrix): Uint8Array {
  const { rows, cols, data } = m;
  const bytes = Math.ceil(cols / 8);
  const out = new Uint8Array(rows * bytes);
  for (let r = 0; r < rows; r++) {
    const src = r * cols;
    const dst = r * bytes;
    // Number(x > 0), not a branch: sign bits are coin flips, a branch on each mispredicts half the time (2.4x).
    for (let j = 0; j < cols; j++) out[dst + (j >> 3)] |= Number(data[src + j] > 0) << (7 - (j & 7));
  }
  return out;
}

/**
 * Quantize float embeddings to compact codes, as sentence-transformers' `quantize_embeddings`:
 *
 * - `uint8`: per-dimension ranges `[min, max]` (from `ranges`, else the min/max of `calibration`, else of
 *   `embeddings` themselves); `steps = (max - min) / 255`; code `trunc((x - min) / steps)`. 1 byte per
 *   dimension (4x smaller than float32); costs a little recall, which rescoring recovers.
 * - `int8`: the same minus 128, `trunc((x - min) / steps - 128)`.
 * - `ubinary`: the sign bit `x > 0` of every dimension packed 8 per byte, MSB first (`np.packbits`);
 *   1 bit per dimension (32x smaller); compare codes by Hamming distance; needs rescoring for good recall.
 * - `binary`: the same bytes shifted to int8, `packed - 128`.
 *
 * Arithmetic is float32 step by step, as numpy on float32 arrays, so codes equal ST's bit for bit on
 * in-range values (tested against a numpy fixture). Deviations, all where numpy is undefined: values
 * outside the ranges are clamped to the code range, a constant dimension maps to the lowest code, and a
 * dimension not divisible by 8 is padded per row.
 *
 * @param embeddings `[n, dim]` float embeddings.
 * @throws {ArgumentError} on non-finite values, mismatched `ranges`/`calibration` dimensions or an unknown
 *   precision.
 * @example
 * ```ts
 * import { quantizeEmbeddings } from 'dense-retrieval';
 * const codes = quantizeEmbeddings(corpus, 'int8', { calibration: sample }); // codes.data: Int8Array
 * const bits = quantizeEmbeddings(corpus, 'ubinary'); // bits.cols = dim / 8
 * ```
 */
export function quantizeEmbeddings(
  embeddings: Matrix,
  precision: Precision,
  options: QuantizeOptions = {},
): QuantizedEmbeddings {
  const { rows, cols, data } = embeddings;
  if (data.length !== rows * cols) {
    throw new ArgumentError('embeddings', `has ${data.length} values, expected rows*cols = ${rows * cols}`);
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new ArgumentError('embeddings', `row ${Math.floor(i / cols)} holds a non-finite value`);
    }
  }
  if (precision === 'binary' || precision === 'ubinary') {
    const packed = packSignBits(embeddings);
    const bytes = Math.ceil(cols / 8);
    const out = precision === 'ubinary' ? packed : new Int8Array(packed.length);
    if (precision === 'binary') for (let i = 0; i < packed.length; i++) out[i] = packed[i] - 128;
    return { precision, data: out, rows, cols: bytes, dim: cols };
  }
  if (precision !== 'int8' && precision !== 'uint8') {
    throw new ArgumentError(
      'precision',
      `must be one of int8, uint8, binary, ubinary, got '${String(precision)}'`,
    );
  }
  let ranges = options.ranges;
  if (ranges === undefined) {
    if (options.calibration !== undefined && options.calibration.cols !== cols) {
      throw new ArgumentError(
        'calibration',
        `has ${options.calibration.cols} dimensions, the embeddings ${cols}`,
      );
    }
    ranges = calibrationRanges(options.calibration ?? embeddings);
  }
  const q = new ScalarQuantizer(ranges);
  if (q.dim !== cols) throw new ArgumentError('ranges', `cover ${q.dim} dimensions, the embeddings ${cols}`);
  const out = precision === 'int8' ? new Int8Array(rows * cols) : new Uint8Array(rows * cols);
  for (let i = 0; i < data.length; i++) {
    const j = i % cols;
    out[i] = precision === 'int8' ? q.int8(data[i], j) : q.uint8(data[i], j);
  }
  return { precision, data: out, rows, cols, dim: cols, ranges: { min: q.min, max: q.max } };
}

const TRUNC_MIDDLES = int8BucketMiddles('trunc');
