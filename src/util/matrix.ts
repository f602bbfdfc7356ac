import { ArgumentError } from '../errors.js';
import type { Matrix } from '../types.js';

/**
 * Check that `value` is a {@link Matrix} (`{ data: Float32Array, rows, cols }` with `data.length ===
 * rows * cols`) before anything reads it: a plain `number[][]` or a tensor would otherwise fail deep
 * inside with a `TypeError`, or worse, be read as garbage.
 *
 * @param name the argument's name, for the error message.
 * @throws {ArgumentError} naming `name` and saying what was given instead.
 */
export function checkMatrixShape(name: string, value: unknown): Matrix {
  if (Array.isArray(value)) {
    throw new ArgumentError(
      name,
      `expected a Matrix { data: Float32Array, rows, cols }, got an array${Array.isArray(value[0]) ? ' of arrays' : ''} (matrixFromRows converts one)`,
    );
  }
  if (value === null || typeof value !== 'object') {
    throw new ArgumentError(
      name,
      `expected a Matrix { data: Float32Array, rows, cols }, got ${value === null ? 'null' : typeof value}`,
    );
  }
  const m = value as Partial<Matrix>;
  if (!(m.data instanceof Float32Array)) {
    const got =
      m.data === undefined
        ? 'no data'
        : `data of type ${Object.prototype.toString.call(m.data).slice(8, -1)}`;
    throw new ArgumentError(name, `expected a Matrix with data: Float32Array, got ${got}`);
  }
  for (const field of ['rows', 'cols'] as const) {
    const n = m[field];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new ArgumentError(name, `${field} must be a non-negative integer, got ${String(n)}`);
    }
  }
  if (m.data.length !== m.rows! * m.cols!) {
    throw new ArgumentError(name, `has ${m.data.length} values, expected rows*cols = ${m.rows! * m.cols!}`);
  }
  return value as Matrix;
}

/**
 * A {@link Matrix} from an array of equally long rows (a `number[][]`, as JSON or another library gives).
 *
 * @throws {ArgumentError} (`rows`) on ragged rows or non-finite values.
 * @example
 * ```ts
 * import { matrixFromRows } from 'dense-retrieval';
 * const m = matrixFromRows([[1, 2], [3, 4]]); // { data: Float32Array [1, 2, 3, 4], rows: 2, cols: 2 }
 * ```
 */
export function matrixFromRows(rows: ArrayLike<number>[]): Matrix {
  if (!Array.isArray(rows)) throw new ArgumentError('rows', 'expected an array of rows');
  const cols = rows.length === 0 ? 0 : rows[0].length;
  const data = new Float32Array(rows.length * cols);
  rows.forEach((row, i) => {
    if (row.length !== cols) {
      throw new ArgumentError('rows', `row ${i} has ${row.length} values, row 0 has ${cols}`);
    }
    for (let j = 0; j < cols; j++) {
      const x = Number(row[j]);
      if (!Number.isFinite(x)) throw new ArgumentError('rows', `row ${i} column ${j} is not a finite number`);
      data[i * cols + j] = x;
    }
  });
  return { data, rows: rows.length, cols };
}

/**
 * Row `i` of a matrix, as a view (no copy: writing to it writes the matrix).
 *
 * @throws {ArgumentError} (`i`) when `i` is not a row index.
 * @example
 * ```ts
 * import { matrixRow } from 'dense-retrieval';
 * const embeddings = await encoder.encode(['first', 'second']);
 * const second = matrixRow(embeddings, 1); // Float32Array of length embeddings.cols
 * ```
 */
export function matrixRow(m: Matrix, i: number): Float32Array {
  checkMatrixShape('m', m);
  if (!Number.isInteger(i) || i < 0 || i >= m.rows) {
    throw new ArgumentError('i', `must be a row index from 0 to ${m.rows - 1}, got ${i}`);
  }
  return m.data.subarray(i * m.cols, (i + 1) * m.cols);
}
