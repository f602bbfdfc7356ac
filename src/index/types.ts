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
  /**
   * Only documents whose id passes this predicate are returned. Applied inside the search (hnswlib's
   * filter, the exact scan, the code scan), so `k` results come back whenever `k` documents pass; the
   * predicate is called once per candidate document, so keep it cheap (a `Set.has`). It must be a
   * function returning a boolean synchronously (an async filter's Promise would pass every document):
   * anything else is an `ArgumentError` naming `filter`. An error the predicate throws rejects the search
   * with that error (HNSW: after hnswlib's native search returns; it never crosses into native code).
   */
  filter?: (id: string) => boolean;
  /**
   * Quantized indexes: retrieve `k * rescoreMultiplier` candidates on the codes, rescore them with the
   * float query, keep the top `k` (sentence-transformers' `rescore_multiplier`). Higher = recall closer
   * to float search, slower rescoring. Ignored by float indexes.
   */
  rescoreMultiplier?: number;
  /** Quantized indexes: `false` returns the code-space ranking and scores without rescoring. */
  rescore?: boolean;
}

/**
 * What every vector index (exact, approximate, or database-backed) offers.
 *
 * `add`, `search`, `remove` and `upsert` return promises for every kind: an in-memory index resolves at once, a
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
  /**
   * Remove the documents with these ids; ids not in the index are ignored. A removed id never comes back
   * from `search` (also after save/load) unless it is added again. Resolves to the number removed.
   */
  remove(ids: string[]): Promise<number>;
  /** Add new ids, and replace the vector of ids already in the index (search then sees the new one). */
  upsert(vectors: Matrix, ids: string[]): Promise<void>;
  /** Save atomically to one versioned file. */
  save(path: string): Promise<void>;
}
