import { ArgumentError } from '../errors.js';
import type { Matrix } from '../types.js';
import { normalizeRows } from './validate.js';

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
  if (normalize) normalizeRows(data, dim);
  return { data, rows: m.rows, cols: dim };
}

/** `truncateDim` must be an integer in [1, full]. */
export function checkTruncateDim(dim: number, full: number): number {
  if (!Number.isInteger(dim) || dim < 1 || dim > full) {
    throw new ArgumentError('truncateDim', `must be an integer in [1, ${full}], got ${dim}`);
  }
  return dim;
}
