import { ArgumentError } from '../errors.js';
import type { Run } from '../types.js';
import { compareRanked } from './topk.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';

const FUSEOPTIONS_KEYS = optionKeys<FuseOptions>({
  method: true,
  k: true,
  depth: true,
});

/** Options of {@link fuse}. */
export interface FuseOptions {
  /** Fusion method; only reciprocal-rank fusion for now. */
  method?: 'rrf';
  /** RRF constant: score = Σ 1 / (k + rank), rank from 1. Default 60 (Cormack et al., 2009). */
  k?: number;
  /** Only the top `depth` documents of each run take part; default all. */
  depth?: number;
}

/** Documents of one query of a run, best first (ties by id, higher first, as trec_eval). */
function ranked(docs: Map<string, number>): string[] {
  return [...docs.entries()]
    .map(([id, score]) => ({ id, score }))
    .sort(compareRanked)
    .map((d) => d.id);
}

/**
 * Reciprocal-rank fusion of several runs (e.g. dense + BM25 for hybrid retrieval): each document gets
 * Σ over runs of 1 / (k + rank), with rank counted from 1 in each run's own order. Only ranks matter, so
 * runs with incomparable scores (BM25 vs dot products) fuse without normalisation. A query missing from
 * a run simply gets nothing from it.
 *
 * @example
 * ```ts
 * import { fuse } from 'dense-retrieval';
 * const hybrid = fuse([denseRun, bm25Run], { method: 'rrf', k: 60, depth: 100 });
 * ```
 */
export function fuse(runs: Run[], options: FuseOptions = {}): Run {
  checkOptionKeys('fuse', options, FUSEOPTIONS_KEYS);
  const method = options.method ?? 'rrf';
  if (method !== 'rrf') throw new ArgumentError('method', `unknown fusion method '${String(method)}'`);
  const k = options.k ?? 60;
  if (!Number.isFinite(k) || k < 0) throw new ArgumentError('k', `must be a finite number >= 0, got ${k}`);
  const depth = options.depth ?? Infinity;
  if (!(depth >= 1)) throw new ArgumentError('depth', `must be >= 1, got ${depth}`);
  if (runs.length === 0) throw new ArgumentError('runs', 'nothing to fuse');
  const out: Run = new Map();
  for (const run of runs) {
    for (const [qid, docs] of run) {
      let fused = out.get(qid);
      if (!fused) out.set(qid, (fused = new Map()));
      const order = ranked(docs);
      const n = Math.min(order.length, depth);
      for (let r = 0; r < n; r++) fused.set(order[r], (fused.get(order[r]) ?? 0) + 1 / (k + r + 1));
    }
  }
  return out;
}
