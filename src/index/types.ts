import type { Matrix } from '../types.js';

/**
 * Similarity of an index: `ip` inner product (DPR-style, vectors as they are), `cosine` (vectors
 * L2-normalised on the way in, then inner product), `l2` (score = minus the squared Euclidean distance, so
 * that higher is always better).
 */
export type Metric = 'ip' | 'cosine' | 'l2';

/** Results of a batch search: per query, `k` document ids and their scores, best first. */
export interface SearchResult {
  ids: string[][];
  scores: Float32Array[];
}

/** Per-call search options. */
export interface SearchOptions {
  /** HNSW beam width for this call (ignored by exact search). Higher = better recall, slower. */
  ef?: number;
}

/**
 * What every vector index (exact, approximate, or database-backed) offers.
 *
 * `add` and `search` return promises for every kind: an in-memory index resolves at once, a
 * database-backed one (e.g. pgvector) after its round trip, and callers are written once for both.
 */
export interface VectorIndex {
  readonly dim: number;
  readonly size: number;
  readonly metric: Metric;
  /** Add `vectors.rows` vectors with their (unique) string ids. */
  add(vectors: Matrix, ids: string[]): Promise<void>;
  /** Top-`k` documents for each query row, best first (ties: higher id first, as trec_eval orders them). */
  search(queries: Matrix, k: number, options?: SearchOptions): Promise<SearchResult>;
  /** Save atomically to one versioned file. */
  save(path: string): Promise<void>;
}
