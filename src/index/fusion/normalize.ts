import { ArgumentError } from '../../errors.js';
import type { Run } from '../../types.js';
import { compareRanked } from '../topk.js';

/**
 * Score normalisations applied per query before score-based fusion, with ranx's definitions
 * (`ranx/normalization/*.py`), including its 1e-9 floor on denominators so a query whose documents all
 * have one score does not divide by zero:
 * - `min-max`: (s - min) / max(max - min, 1e-9), so scores span [0, 1];
 * - `z-score` (ranx `zmuv`): (s - mean) / max(std, 1e-9), population standard deviation;
 * - `sum`: (s - min) / max(Σ(s - min), 1e-9), so scores are >= 0 and sum to 1;
 * - `rank`: 1 - (r - 1) / n for the document at rank r (from 1, trec_eval order) of n;
 * - `none`: the scores as they are.
 */
export type ScoreNorm = 'none' | 'min-max' | 'z-score' | 'sum' | 'rank';

/** The normalisations {@link normalizeRun} accepts. */
export const SCORE_NORMS: readonly ScoreNorm[] = ['none', 'min-max', 'z-score', 'sum', 'rank'];

const FLOOR = 1e-9;

/** Documents of one query, best first (score descending, ties by id descending, as trec_eval). */
export function rankedEntries(docs: Map<string, number>): { id: string; score: number }[] {
  return [...docs.entries()].map(([id, score]) => ({ id, score })).sort(compareRanked);
}

function normalizeQuery(entries: { id: string; score: number }[], norm: ScoreNorm): Map<string, number> {
  const n = entries.length;
  const out = new Map<string, number>();
  if (n === 0) return out;
  const scores = entries.map((e) => e.score);
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const s of scores) {
    if (s < min) min = s;
    if (s > max) max = s;
    sum += s;
  }
  entries.forEach((e, i) => {
    let v = e.score;
    switch (norm) {
      case 'none':
        break;
      case 'min-max':
        v = (e.score - min) / Math.max(max - min, FLOOR);
        break;
      case 'sum':
        v = (e.score - min) / Math.max(sum - min * n, FLOOR);
        break;
      case 'z-score': {
        const mean = sum / n;
        const std = Math.sqrt(scores.reduce((a, s) => a + (s - mean) * (s - mean), 0) / n);
        v = (e.score - mean) / Math.max(std, FLOOR);
        break;
      }
      case 'rank':
        v = 1 - i / n;
        break;
    }
    out.set(e.id, v);
  });
  return out;
}

/**
 * Normalise every query of a run (see {@link ScoreNorm} for the formulas). With `depth`, only each query's
 * top `depth` documents are kept, and the normalisation is computed over them.
 *
 * @throws {ArgumentError} for an unknown normalisation, a bad depth, or a NaN score.
 * @example
 * ```ts
 * normalizeRun(new Map([['q', new Map([['a', 3], ['b', 1]])]]), 'min-max').get('q'); // a → 1, b → 0
 * ```
 */
export function normalizeRun(run: Run, norm: ScoreNorm, depth = Infinity): Run {
  if (!SCORE_NORMS.includes(norm)) {
    throw new ArgumentError('norm', `unknown normalisation '${String(norm)}'; use ${SCORE_NORMS.join(', ')}`);
  }
  if (!(depth >= 1)) throw new ArgumentError('depth', `must be >= 1, got ${depth}`);
  const out: Run = new Map();
  for (const [qid, docs] of run) {
    for (const [docid, score] of docs) {
      if (Number.isNaN(score))
        throw new ArgumentError('run', `query '${qid}': score of document '${docid}' is NaN`);
    }
    const entries = rankedEntries(docs);
    out.set(qid, normalizeQuery(depth < entries.length ? entries.slice(0, depth) : entries, norm));
  }
  return out;
}
