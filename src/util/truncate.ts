import { ArgumentError } from '../errors.js';
import type { Matrix } from '../types.js';

/**
 * Matryoshka truncation: keep the first `dim` coordinates of each row (a model trained with
 * MatryoshkaLoss front-loads information there), re-normalising to unit length when `normalize` is set
 * (cosine, or a model whose output is normalised: the truncated vector is no longer unit length).
 * Returns `m` itself when nothing changes.
 *
 * @throws {ArgumentError} when `dim` is not an integer in [1, m.cols].
 * @example
 * ```ts
 * import { truncateEmbeddings } from 'dense-retrieval';
 * const small = truncateEmbeddings(embeddings, 256, true); // [n, 768] -> [n, 256], unit rows
 * ```
 */
export function truncateEmbeddings(m: Matrix, dim: number, normalize: boolean): Matrix {
  checkTruncateDim(dim, m.cols);
  if (dim === m.cols && !normalize) return m;
  const data = new Float32Array(m.rows * dim);
  for (let r = 0; r < m.rows; r++) data.set(m.data.subarray(r * m.cols, r * m.cols + dim), r * dim);
  if (normalize) {
    for (let o = 0; o < data.length; o += dim) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += data[o + j] * data[o + j];
      if (s === 0) continue; // an all-zero row stays zero
      const inv = 1 / Math.sqrt(s);
      for (let j = 0; j < dim; j++) data[o + j] *= inv;
    }
  }
  return { data, rows: m.rows, cols: dim };
}

/**
 * Vectors for an index that stores `dim` of `inputDim` dimensions: full-width rows are truncated (not
 * normalised: the index normalises under cosine itself), rows already `dim` wide pass unchanged, and
 * any other width is left for the index's dimension check to refuse.
 */
export function fitToIndex(m: Matrix, inputDim: number, dim: number): Matrix {
  if (inputDim === dim || m.cols !== inputDim) return m;
  return truncateEmbeddings(m, dim, false);
}

/** `truncateDim` must be an integer in [1, full]. */
export function checkTruncateDim(dim: number, full: number): number {
  if (!Number.isInteger(dim) || dim < 1 || dim > full) {
    throw new ArgumentError('truncateDim', `must be an integer in [1, ${full}], got ${dim}`);
  }
  return dim;
}

/** Index options from a saved header: the stored `dim` and, under truncation, the wider input dimension. */
export function dims(dim: number, inputDim: unknown): { dim: number; truncateDim?: number } {
  return typeof inputDim === 'number' && inputDim !== dim ? { dim: inputDim, truncateDim: dim } : { dim };
}
