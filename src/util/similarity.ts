/**
 * Similarity helpers on {@link Matrix} values, named as sentence-transformers' `util` module names them
 * (`cos_sim`, `dot_score`, `semantic_search`, `normalize_embeddings`), for users who have embeddings and
 * want scores without tensors. Plain JavaScript (no tfjs): exact float64 accumulation, results in float32
 * like the inputs. For large corpora, an index ({@link ExactIndex}) avoids the full score matrix.
 */
import { ArgumentError } from '../errors.js';
import type { Matrix } from '../types.js';
import { checkMatrixShape } from './matrix.js';

function checkPair(a: unknown, b: unknown): [Matrix, Matrix] {
  const ma = checkMatrixShape('a', a);
  const mb = checkMatrixShape('b', b);
  if (ma.cols !== mb.cols) {
    throw new ArgumentError(
      'b',
      `has ${mb.cols} columns, a has ${ma.cols}: embeddings of different dimensions`,
    );
  }
  return [ma, mb];
}

function norms(m: Matrix): Float64Array {
  const out = new Float64Array(m.rows);
  for (let i = 0; i < m.rows; i++) {
    let s = 0;
    for (let j = 0; j < m.cols; j++) s += m.data[i * m.cols + j] ** 2;
    out[i] = Math.sqrt(s);
  }
  return out;
}

function scores(a: Matrix, b: Matrix, scale?: (i: number, j: number) => number): Matrix {
  const { cols } = a;
  const data = new Float32Array(a.rows * b.rows);
  for (let i = 0; i < a.rows; i++) {
    for (let j = 0; j < b.rows; j++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += a.data[i * cols + k] * b.data[j * cols + k];
      data[i * b.rows + j] = scale ? s * scale(i, j) : s;
    }
  }
  return { data, rows: a.rows, cols: b.rows };
}

/**
 * Dot products of every row of `a` with every row of `b`: `[a.rows, b.rows]`, entry (i, j) = a_i · b_j.
 * As sentence-transformers' `util.dot_score`.
 *
 * @throws {ArgumentError} when an argument is not a Matrix or the dimensions differ.
 * @example
 * ```ts
 * import { dotScore, matrixFromRows } from 'dense-retrieval';
 * dotScore(matrixFromRows([[1, 2]]), matrixFromRows([[3, 4], [0, 1]])).data; // Float32Array [11, 2]
 * ```
 */
export function dotScore(a: Matrix, b: Matrix): Matrix {
  const [ma, mb] = checkPair(a, b);
  return scores(ma, mb);
}

/**
 * Cosine similarities of every row of `a` with every row of `b`: `[a.rows, b.rows]`, entry (i, j) =
 * a_i · b_j / (|a_i| |b_j|), in [-1, 1]. A zero row has similarity 0 with everything (sentence-transformers'
 * `util.cos_sim` divides by max(|x|, 1e-8), which gives the same 0).
 *
 * @throws {ArgumentError} when an argument is not a Matrix or the dimensions differ.
 * @example
 * ```ts
 * import { cosSim, matrixFromRows } from 'dense-retrieval';
 * cosSim(matrixFromRows([[1, 0]]), matrixFromRows([[1, 1], [0, 2]])).data; // [0.7071, 0]
 * ```
 */
export function cosSim(a: Matrix, b: Matrix): Matrix {
  const [ma, mb] = checkPair(a, b);
  const na = norms(ma);
  const nb = norms(mb);
  return scores(ma, mb, (i, j) => (na[i] === 0 || nb[j] === 0 ? 0 : 1 / (na[i] * nb[j])));
}

/**
 * A copy of `m` with every row scaled to unit L2 norm (zero rows stay zero), as sentence-transformers'
 * `util.normalize_embeddings`. Named apart from {@link l2Normalize}, which does the same to a tfjs tensor.
 *
 * @throws {ArgumentError} when `m` is not a Matrix.
 * @example
 * ```ts
 * import { l2NormalizeRows, matrixFromRows } from 'dense-retrieval';
 * l2NormalizeRows(matrixFromRows([[3, 4]])).data; // Float32Array [0.6, 0.8]
 * ```
 */
export function l2NormalizeRows(m: Matrix): Matrix {
  const checked = checkMatrixShape('m', m);
  const n = norms(checked);
  const data = new Float32Array(checked.data.length);
  for (let i = 0; i < checked.rows; i++) {
    const inv = n[i] === 0 ? 0 : 1 / n[i];
    for (let j = 0; j < checked.cols; j++)
      data[i * checked.cols + j] = checked.data[i * checked.cols + j] * inv;
  }
  return { data, rows: checked.rows, cols: checked.cols };
}

/** One hit of {@link semanticSearch}: the row of the corpus matrix and its score. */
export interface SemanticSearchHit {
  corpusId: number;
  score: number;
}

/** Options of {@link semanticSearch}. */
export interface SemanticSearchOptions {
  /** Hits per query; default 10 (fewer when the corpus is smaller). */
  topK?: number;
  /** `cosine` (default, as sentence-transformers) or `dot`. */
  scoreFunction?: 'cosine' | 'dot';
}

/**
 * Exhaustive search: for each query row, the `topK` corpus rows with the highest score, best first; ties
 * by the lower corpus row. As sentence-transformers' `util.semantic_search` (`corpus_id`, `score`), on
 * Matrix values.
 *
 * @throws {ArgumentError} when an argument is not a Matrix, the dimensions differ, or `topK` is not a
 *   positive integer.
 * @example
 * ```ts
 * import { semanticSearch } from 'dense-retrieval';
 * const hits = semanticSearch(await encoder.encode(queries), await encoder.encode(passages), { topK: 5 });
 * hits[0][0]; // { corpusId: 3, score: 0.82 }: passages[3] is the best match of queries[0]
 * ```
 */
export function semanticSearch(
  queryEmbeddings: Matrix,
  corpusEmbeddings: Matrix,
  options: SemanticSearchOptions = {},
): SemanticSearchHit[][] {
  const known = new Set(['topK', 'scoreFunction']);
  const unknown = Object.keys(options).filter((key) => !known.has(key));
  if (unknown.length > 0) throw new ArgumentError('options', `unknown option(s) ${unknown.join(', ')}`);
  const topK = options.topK ?? 10;
  if (!Number.isInteger(topK) || topK < 1)
    throw new ArgumentError('topK', `must be a positive integer, got ${topK}`);
  const fn = options.scoreFunction ?? 'cosine';
  if (fn !== 'cosine' && fn !== 'dot')
    throw new ArgumentError('scoreFunction', `must be 'cosine' or 'dot', got '${String(fn)}'`);
  const s =
    fn === 'cosine' ? cosSim(queryEmbeddings, corpusEmbeddings) : dotScore(queryEmbeddings, corpusEmbeddings);
  const n = s.cols;
  const hits: SemanticSearchHit[][] = [];
  for (let i = 0; i < s.rows; i++) {
    const row = s.data.subarray(i * n, (i + 1) * n);
    const order = Array.from({ length: n }, (_, j) => j).sort((x, y) => row[y] - row[x] || x - y);
    hits.push(order.slice(0, Math.min(topK, n)).map((j) => ({ corpusId: j, score: row[j] })));
  }
  return hits;
}
