import type { Rng } from '../util/random.js';

/** How the negatives are drawn from the eligible candidates of a query. */
export type NegativeSampling = 'top' | 'random';

/** The score filters of hard-negative mining (sentence-transformers' `mine_hard_negatives` names). */
export interface NegativeFilters {
  /** Drop a candidate scoring above this. */
  maxScore?: number;
  /** Drop a candidate scoring below this. */
  minScore?: number;
  /** Drop a candidate unless `score + absoluteMargin <= positiveScore`. */
  absoluteMargin?: number;
  /** Drop a candidate unless `score <= positiveScore * (1 - relativeMargin)`. */
  relativeMargin?: number;
}

/** Candidates each filter removed, counted by the first filter (in this order) that removed them. */
export interface SkippedCounts {
  absoluteMargin: number;
  relativeMargin: number;
  maxScore: number;
  minScore: number;
}

/** An empty {@link SkippedCounts}. */
export function noneSkipped(): SkippedCounts {
  return { absoluteMargin: 0, relativeMargin: 0, maxScore: 0, minScore: 0 };
}

/**
 * Which filter, if any, removes a candidate of score `score` for a query whose hardest (lowest-scoring)
 * positive scores `positiveScore`. The rules are those of sentence-transformers' `mine_hard_negatives`
 * (v5, `util/hard_negatives.py`), applied in its order: absolute margin
 * (`score + absoluteMargin > positiveScore` removes), relative margin
 * (`score > positiveScore * (1 - relativeMargin)` removes), `maxScore` (`score > maxScore` removes),
 * `minScore` (`score < minScore` removes). `positiveScore` may be undefined only when no margin is set.
 */
export function filterOf(
  score: number,
  positiveScore: number | undefined,
  filters: NegativeFilters,
): keyof SkippedCounts | undefined {
  const { absoluteMargin, relativeMargin, maxScore, minScore } = filters;
  if (absoluteMargin !== undefined && score + absoluteMargin > positiveScore!) return 'absoluteMargin';
  if (relativeMargin !== undefined && score > positiveScore! * (1 - relativeMargin)) return 'relativeMargin';
  if (maxScore !== undefined && score > maxScore) return 'maxScore';
  if (minScore !== undefined && score < minScore) return 'minScore';
  return undefined;
}

/**
 * Pick up to `numNegatives` of a query's candidates (given in rank order, with their scores). Candidates a
 * filter removes are counted in `skipped`; of the rest (the eligible ones), `top` takes the best by score
 * (ties in rank order), `random` draws `numNegatives` uniformly without replacement from `rng` (all of them
 * when fewer are eligible). The picks come back best score first (ties in rank order), as
 * sentence-transformers re-sorts its random draws. Returns positions into `scores`.
 */
export function selectNegatives(
  scores: ArrayLike<number> | undefined,
  count: number,
  options: {
    filters: NegativeFilters;
    positiveScore?: number;
    numNegatives: number;
    sampling: NegativeSampling;
    rng?: Rng;
    skipped: SkippedCounts;
  },
): number[] {
  const eligible: number[] = [];
  for (let i = 0; i < count; i++) {
    const removedBy =
      scores === undefined ? undefined : filterOf(scores[i], options.positiveScore, options.filters);
    if (removedBy === undefined) eligible.push(i);
    else options.skipped[removedBy] += 1;
  }
  // Best score first, ties in rank order (Array.prototype.sort is stable); without scores, rank order.
  const byScore = (list: number[]) =>
    scores === undefined ? list : list.sort((a, b) => scores[b] - scores[a]);
  if (options.sampling === 'top') return byScore(eligible).slice(0, options.numNegatives);
  if (eligible.length <= options.numNegatives) return byScore(eligible);
  // Partial Fisher-Yates: the first numNegatives slots become a uniform sample without replacement.
  const pool = eligible.slice();
  for (let i = 0; i < options.numNegatives; i++) {
    const j = i + options.rng!.int(pool.length - i);
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
  return byScore(pool.slice(0, options.numNegatives).sort((a, b) => a - b));
}
