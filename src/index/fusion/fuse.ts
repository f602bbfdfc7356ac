import { ArgumentError } from '../../errors.js';
import type { Run } from '../../types.js';
import { SCORE_NORMS, normalizeRun, rankedEntries } from './normalize.js';
import type { ScoreNorm } from './normalize.js';
import { checkOptionKeys, optionKeys } from '../../util/options.js';

/**
 * Fusion methods, as ranx names and defines them (`ranx/fusion/*.py`):
 * - `rrf`: Σ over runs of 1 / (k + rank) (Cormack et al., SIGIR 2009); ranks only, no normalisation;
 * - `combsum`: Σ of the normalised scores of the runs that retrieved the document (Fox & Shaw, TREC-2);
 * - `combmnz`: combsum × the number of runs that retrieved it (Fox & Shaw);
 * - `combmax`: the largest normalised score among those runs;
 * - `wsum`: Σ w_i · normalised score (ranx `wsum`), weights given or fitted by `optimizeFusionWeights`.
 */
export type FusionMethod = 'rrf' | 'combsum' | 'combmnz' | 'combmax' | 'wsum';

/** The methods {@link fuse} accepts. */
export const FUSION_METHODS: readonly FusionMethod[] = ['rrf', 'combsum', 'combmnz', 'combmax', 'wsum'];

/** Options of {@link fuse}. */
export interface FuseOptions {
  /** Fusion method; default `'rrf'`. */
  method?: FusionMethod;
  /** RRF constant: score = Σ 1 / (k + rank), rank from 1. Default 60 (Cormack et al., 2009). */
  k?: number;
  /** Only the top `depth` documents of each run take part; default all. */
  depth?: number;
  /**
   * Normalisation of each run's scores per query before a score-based method (not `rrf`); default
   * `'min-max'`, as ranx. See `ScoreNorm`.
   */
  norm?: ScoreNorm;
  /** `wsum` only: one weight per run; default equal weights 1 / (number of runs). */
  weights?: readonly number[];
}

const FUSE_OPTION_KEYS = optionKeys<FuseOptions>({
  method: true,
  k: true,
  depth: true,
  norm: true,
  weights: true,
});

function checkOptions(runs: readonly Run[], options: FuseOptions): void {
  checkOptionKeys('fuse', options, FUSE_OPTION_KEYS);
  const method = options.method ?? 'rrf';
  if (!FUSION_METHODS.includes(method)) {
    throw new ArgumentError(
      'method',
      `unknown fusion method '${String(method)}'; use ${FUSION_METHODS.join(', ')}`,
    );
  }
  const k = options.k ?? 60;
  if (!Number.isFinite(k) || k < 0) throw new ArgumentError('k', `must be a finite number >= 0, got ${k}`);
  const depth = options.depth ?? Infinity;
  if (!(depth >= 1)) throw new ArgumentError('depth', `must be >= 1, got ${depth}`);
  if (runs.length === 0) throw new ArgumentError('runs', 'nothing to fuse');
  if (options.norm !== undefined && !SCORE_NORMS.includes(options.norm)) {
    throw new ArgumentError(
      'norm',
      `unknown normalisation '${String(options.norm)}'; use ${SCORE_NORMS.join(', ')}`,
    );
  }
  if (options.weights !== undefined) {
    if (method !== 'wsum')
      throw new ArgumentError('weights', `only the wsum method takes weights, not ${method}`);
    if (options.weights.length !== runs.length) {
      throw new ArgumentError(
        'weights',
        `need one weight per run (${runs.length}), got ${options.weights.length}`,
      );
    }
    if (options.weights.some((w) => !Number.isFinite(w)))
      throw new ArgumentError('weights', 'must be finite numbers');
  }
}

/**
 * Fuse several runs of the same queries into one (e.g. dense + BM25 for hybrid retrieval). A query
 * missing from a run simply gets nothing from it; a document gets contributions only from the runs that
 * retrieved it. Works on runs (`Map<queryId, Map<docId, score>>`), whatever produced them.
 *
 * @throws {ArgumentError} for an unknown method or normalisation, a negative `k`, `depth` < 1, no runs,
 *   weights given to a method other than `wsum` or not one per run, or a NaN score.
 * @example
 * ```ts
 * import { fuse } from 'dense-retrieval';
 * const hybrid = fuse([denseRun, bm25Run], { method: 'rrf', k: 60, depth: 100 });
 * const mnz = fuse([denseRun, bm25Run], { method: 'combmnz', norm: 'min-max' });
 * const weighted = fuse([denseRun, bm25Run], { method: 'wsum', weights: [0.7, 0.3] });
 * ```
 */
export function fuse(runs: Run[], options: FuseOptions = {}): Run {
  checkOptions(runs, options);
  const method = options.method ?? 'rrf';
  const depth = options.depth ?? Infinity;
  const out: Run = new Map();
  const slot = (qid: string): Map<string, number> => {
    let fused = out.get(qid);
    if (!fused) out.set(qid, (fused = new Map()));
    return fused;
  };
  if (method === 'rrf') {
    const k = options.k ?? 60;
    for (const run of runs) {
      for (const [qid, docs] of run) {
        // An empty map is no query (it has no line in a run file); it must not create one in the output.
        if (docs.size === 0) continue;
        const fused = slot(qid);
        const order = rankedEntries(docs);
        const n = Math.min(order.length, depth);
        for (let r = 0; r < n; r++) fused.set(order[r].id, (fused.get(order[r].id) ?? 0) + 1 / (k + r + 1));
      }
    }
    return out;
  }
  const norm = options.norm ?? 'min-max';
  const weights = options.weights ?? runs.map(() => 1 / runs.length);
  const hits = new Map<string, Map<string, number>>();
  runs.forEach((run, i) => {
    for (const [qid, docs] of normalizeRun(run, norm, depth)) {
      if (docs.size === 0) continue;
      const fused = slot(qid);
      let counts = hits.get(qid);
      if (!counts) hits.set(qid, (counts = new Map()));
      for (const [docid, score] of docs) {
        const before = fused.get(docid);
        counts.set(docid, (counts.get(docid) ?? 0) + 1);
        if (method === 'combmax') fused.set(docid, before === undefined ? score : Math.max(before, score));
        else if (method === 'wsum') fused.set(docid, (before ?? 0) + weights[i] * score);
        else fused.set(docid, (before ?? 0) + score);
      }
    }
  });
  if (method === 'combmnz') {
    for (const [qid, fused] of out) {
      const counts = hits.get(qid) as Map<string, number>;
      for (const [docid, score] of fused) fused.set(docid, score * (counts.get(docid) as number));
    }
  }
  return out;
}
