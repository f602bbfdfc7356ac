import { ArgumentError } from '../errors.js';
import type { Matrix } from '../types.js';
import type { SearchOptions, VectorIndex } from './types.js';
import { checkOptionKeys } from '../util/options.js';
import { SEARCH_OPTION_KEYS } from './validate.js';
import { checkMatrixShape } from '../util/matrix.js';

/**
 * Recall@k of an approximate index against exact search: for each query, the fraction of the exact top-k
 * ids that the approximate top-k also returns (|approx ∩ exact| / k), averaged over queries. This is the
 * number that tells you what an approximate index costs before it shows up as lost nDCG. With
 * `options.filter`, both indexes are searched with it (recall among the documents that pass).
 *
 * @example
 * ```ts
 * import { ExactIndex, HnswIndex, measureRecall } from 'dense-retrieval';
 * const r = await measureRecall(hnsw, exact, queryEmbeddings, 10); // e.g. 0.991
 * ```
 */
export async function measureRecall(
  approx: VectorIndex,
  exact: VectorIndex,
  queries: Matrix,
  k: number,
  options: SearchOptions = {},
): Promise<number> {
  checkOptionKeys('measureRecall', options, SEARCH_OPTION_KEYS);
  if (approx.size !== exact.size || approx.dim !== exact.dim || approx.metric !== exact.metric) {
    throw new ArgumentError(
      'approx',
      `indexes differ (approx: ${approx.size} x ${approx.dim} ${approx.metric}, exact: ${exact.size} x ${exact.dim} ${exact.metric})`,
    );
  }
  if (checkMatrixShape('queries', queries).rows === 0) throw new ArgumentError('queries', 'no query vectors');
  const a = await approx.search(queries, k, options);
  // A filter restricts both sides: the unfiltered exact top-k would count documents the filter excludes as
  // misses.
  const e = await exact.search(queries, k, options.filter === undefined ? {} : { filter: options.filter });
  return recallOfResults(a.ids, e.ids, k);
}

/**
 * The same measure over id lists that were already retrieved: per query |approx ∩ exact| / |exact|, with
 * both lists cut at `k`, averaged over the queries whose exact list is not empty. A query with no exact
 * result has nothing to recall: it is no query (as a query without lines in a run), rather than a 0 that
 * would lower the mean. 0 when no query has an exact result.
 *
 * @throws {ArgumentError} if the two lists hold different numbers of queries.
 * @example
 * ```ts
 * import { recallOfResults } from 'dense-retrieval';
 * recallOfResults([['a', 'x']], [['a', 'b']], 2); // 0.5
 * ```
 */
export function recallOfResults(approx: string[][], exact: string[][], k: number): number {
  if (approx.length !== exact.length) {
    throw new ArgumentError('approx', `has ${approx.length} result lists for ${exact.length} exact ones`);
  }
  let sum = 0;
  let counted = 0;
  for (let i = 0; i < exact.length; i++) {
    const truth = new Set(exact[i].slice(0, k));
    if (truth.size === 0) continue;
    let hit = 0;
    for (const id of approx[i].slice(0, k)) if (truth.has(id)) hit++;
    sum += hit / truth.size;
    counted++;
  }
  return counted === 0 ? 0 : sum / counted;
}

/** What {@link measureIndex} reports. */
export interface IndexReport {
  /** Recall@k against the exact index (as {@link measureRecall}). */
  recall: number;
  k: number;
  /** Bytes the approximate index holds per vector, when it reports them (quantized indexes do). */
  bytesPerVector: number | undefined;
  /** Bytes of the same vector in float32 (`dim * 4`), the baseline of the compression ratio. */
  float32BytesPerVector: number;
}

/**
 * Recall@k against exact search together with the memory per vector: the two numbers that decide
 * whether a quantized or approximate index is worth it.
 *
 * @example
 * ```ts
 * import { measureIndex } from 'dense-retrieval';
 * const r = await measureIndex(binaryIndex, exact, queryEmbeddings, 10);
 * // { recall: 0.93, k: 10, bytesPerVector: 48, float32BytesPerVector: 1536 }
 * ```
 */
export async function measureIndex(
  approx: VectorIndex & { readonly bytesPerVector?: number },
  exact: VectorIndex,
  queries: Matrix,
  k: number,
  options: SearchOptions = {},
): Promise<IndexReport> {
  const recall = await measureRecall(approx, exact, queries, k, options);
  return { recall, k, bytesPerVector: approx.bytesPerVector, float32BytesPerVector: approx.dim * 4 };
}
