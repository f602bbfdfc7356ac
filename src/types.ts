/** Types shared across modules. */

/** Relevance judgements: query id -> document id -> integer grade (grade >= 1 counts as relevant). */
export type Qrels = Map<string, Map<string, number>>;

/** A retrieval run: query id -> document id -> score (higher is better). */
export type Run = Map<string, Map<string, number>>;

/** A dense row-major float32 matrix, e.g. `[n, dim]` embeddings. */
export interface Matrix {
  /** Row-major values, length `rows * cols`. */
  data: Float32Array;
  rows: number;
  cols: number;
}

/** A document of a BEIR corpus. */
export interface CorpusDoc {
  id: string;
  title: string;
  text: string;
}

/** A query of a BEIR collection. */
export interface QueryRecord {
  id: string;
  text: string;
}
