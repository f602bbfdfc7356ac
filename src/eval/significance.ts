import { createRequire } from 'node:module';
import type NormalCdf from '@stdlib/stats-base-dists-normal-cdf';
import type SignrankCdf from '@stdlib/stats-base-dists-signrank-cdf';
import type TCdf from '@stdlib/stats-base-dists-t-cdf';
import type TQuantile from '@stdlib/stats-base-dists-t-quantile';
import { ArgumentError } from '../errors.js';
import type { Qrels, Run } from '../types.js';
import { Rng, deriveSeed } from '../util/random.js';
import { MIN_GEO_MEAN } from './measures-trec.js';
import { measureAggregation, parseMeasures } from './measures.js';
import { compareIds, evaluateRun } from './metrics.js';

/**
 * Paired significance tests on per-query scores, as IR papers use them (Smucker, Allan & Carterette,
 * CIKM 2007): Student's paired t-test, Wilcoxon's signed-rank test and Fisher's randomization
 * (permutation) test, plus multiple-comparison corrections.
 *
 * Distributions come from the `@stdlib/stats-base-dists-*` packages: maintained by the stdlib project,
 * one small package per function, accurate to double precision (the t CDF via the regularised incomplete
 * beta function) and typed; jStat would be one package but its t CDF and quantile are less accurate in
 * the tails. They are loaded on first use, so importing the library does not load them.
 */

const require_ = createRequire(import.meta.url);
let dists:
  | {
      tCdf: typeof TCdf;
      tQuantile: typeof TQuantile;
      normalCdf: typeof NormalCdf;
      signrankCdf: typeof SignrankCdf;
    }
  | undefined;

function distributions(): NonNullable<typeof dists> {
  dists ??= {
    tCdf: require_('@stdlib/stats-base-dists-t-cdf'),
    tQuantile: require_('@stdlib/stats-base-dists-t-quantile'),
    normalCdf: require_('@stdlib/stats-base-dists-normal-cdf'),
    signrankCdf: require_('@stdlib/stats-base-dists-signrank-cdf'),
  };
  return dists;
}

/** The paired tests {@link compareRuns} offers. */
export type SignificanceTest = 'paired-t' | 'randomization' | 'wilcoxon';
/** Multiple-comparison corrections. */
export type Correction = 'bonferroni' | 'holm' | 'none';

/** Outcome of one paired test of `x` against `y` (differences `x - y`). */
export interface TestResult {
  /** t for the t-test; min(W+, W-) for Wilcoxon (as scipy); the mean difference for randomization. */
  statistic: number;
  /** Two-sided p-value. */
  pValue: number;
}

function differences(x: readonly number[], y: readonly number[]): number[] {
  if (x.length !== y.length) {
    throw new ArgumentError('y', `must have as many values as x (${x.length}), got ${y.length}`);
  }
  if (x.length < 2) throw new ArgumentError('x', `a paired test needs at least 2 queries, got ${x.length}`);
  const d = x.map((v, i) => v - y[i]);
  if (d.some((v) => !Number.isFinite(v))) throw new ArgumentError('x', 'scores must be finite numbers');
  return d;
}

function meanAndSd(d: readonly number[]): { mean: number; sd: number } {
  const n = d.length;
  const mean = d.reduce((a, b) => a + b, 0) / n;
  let ss = 0;
  for (const v of d) ss += (v - mean) * (v - mean);
  return { mean, sd: Math.sqrt(ss / (n - 1)) };
}

/**
 * Student's paired t-test, two-sided, equal to scipy's `ttest_rel(x, y)`: t = mean(d) / (sd(d) / sqrt(n))
 * with d = x - y, sd with n - 1 degrees of freedom; also the mean difference's 95 % confidence interval
 * mean ± t(0.975, n-1) · sd / sqrt(n) (scipy's `confidence_interval(0.95)`). When every difference is 0,
 * scipy returns NaN; we return t = 0 and p = 1 (no evidence of a difference).
 *
 * @throws {ArgumentError} for vectors of different lengths, fewer than 2 values, or non-finite values.
 * @example
 * ```ts
 * pairedTTest([0.5, 0.7, 0.9], [0.4, 0.5, 0.9]).pValue; // 0.2254...
 * ```
 */
export function pairedTTest(
  x: readonly number[],
  y: readonly number[],
): TestResult & { df: number; meanDifference: number; ci95: [number, number] } {
  const d = differences(x, y);
  const n = d.length;
  const { mean, sd } = meanAndSd(d);
  const se = sd / Math.sqrt(n);
  const df = n - 1;
  const half = distributions().tQuantile(0.975, df) * se;
  if (se === 0) {
    return {
      statistic: mean === 0 ? 0 : Math.sign(mean) * Infinity,
      pValue: mean === 0 ? 1 : 0,
      df,
      meanDifference: mean,
      ci95: [mean, mean],
    };
  }
  const t = mean / se;
  const pValue = Math.min(1, 2 * distributions().tCdf(-Math.abs(t), df));
  return { statistic: t, pValue, df, meanDifference: mean, ci95: [mean - half, mean + half] };
}

/** Average ranks (1-based) of `values`, ties sharing the mean of their ranks; also the tie group sizes. */
function averageRanks(values: readonly number[]): { ranks: number[]; ties: number[] } {
  const order = values.map((v, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Array<number>(values.length);
  const ties: number[] = [];
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && values[order[end]] === values[order[start]]) end++;
    const rank = (start + 1 + end) / 2;
    for (let i = start; i < end; i++) ranks[order[i]] = rank;
    ties.push(end - start);
    start = end;
  }
  return { ranks, ties };
}

/**
 * Wilcoxon's signed-rank test, two-sided, equal to scipy's `wilcoxon(x, y)` with its defaults
 * (`zero_method='wilcox'`: zero differences dropped; `correction=False`; `method='auto'`), which picks:
 * - `exact`: the exact null distribution of W+, if n <= 50 and there are neither ties nor zero differences;
 * - `permutation`: all 2^n sign flips enumerated (exact given the ties), if there are ties or zeros and
 *   n <= 13;
 * - `asymptotic`: the normal approximation with tie correction, otherwise.
 * The statistic is min(W+, W-) as scipy reports it. When every difference is 0 scipy may return NaN; we
 * return p = 1.
 *
 * @throws {ArgumentError} as {@link pairedTTest}.
 * @example
 * ```ts
 * wilcoxonTest([0.9, 0.8, 0.7, 0.6, 0.5], [0.1, 0.6, 0.4, 0.55, 0.4]); // { statistic: 0, pValue: 0.0625, method: 'exact' }
 * ```
 */
export function wilcoxonTest(
  x: readonly number[],
  y: readonly number[],
): TestResult & { method: 'exact' | 'permutation' | 'asymptotic' } {
  const d = differences(x, y);
  const nonzero = d.filter((v) => v !== 0);
  const count = nonzero.length;
  const { ranks, ties } = averageRanks(nonzero.map(Math.abs));
  let rPlus = 0;
  let rMinus = 0;
  nonzero.forEach((v, i) => (v > 0 ? (rPlus += ranks[i]) : (rMinus += ranks[i])));
  const statistic = Math.min(rPlus, rMinus);
  const hasTies = ties.some((t) => t > 1);
  const zeros = d.length - count;
  if (count === 0) return { statistic, pValue: 1, method: d.length <= 13 ? 'permutation' : 'asymptotic' };
  if (d.length <= 50 && !hasTies && zeros === 0) {
    const total = (count * (count + 1)) / 2;
    const tail = distributions().signrankCdf(Math.min(rPlus, total - rPlus), count);
    return { statistic, pValue: Math.min(1, 2 * tail), method: 'exact' };
  }
  if (d.length <= 13) {
    // Flipping the sign of a zero difference changes nothing, so enumerating the non-zero ones gives the
    // same fractions as scipy's enumeration of all 2^n. scipy's relative tolerance for equal sums: 100 eps.
    const gamma = Math.abs(100 * Number.EPSILON * rPlus);
    let less = 0;
    let greater = 0;
    const patterns = 2 ** count;
    for (let mask = 0; mask < patterns; mask++) {
      let sum = 0;
      for (let i = 0; i < count; i++) if (mask & (1 << i)) sum += ranks[i];
      if (sum <= rPlus + gamma) less++;
      if (sum >= rPlus - gamma) greater++;
    }
    return {
      statistic,
      pValue: Math.min(1, (2 * Math.min(less, greater)) / patterns),
      method: 'permutation',
    };
  }
  const mean = (count * (count + 1)) / 4;
  const tieCorrection = ties.reduce((a, t) => a + t ** 3 - t, 0);
  const se = Math.sqrt((count * (count + 1) * (2 * count + 1) - tieCorrection / 2) / 24);
  const z = (rPlus - mean) / se;
  return {
    statistic,
    pValue: Math.min(1, 2 * distributions().normalCdf(-Math.abs(z), 0, 1)),
    method: 'asymptotic',
  };
}

/**
 * Fisher's paired randomization test (sign-flip permutation test; Smucker et al., 2007), two-sided, on the
 * mean difference: each of `permutations` rounds flips the sign of every query's difference with
 * probability 1/2; p = (1 + rounds with |mean| >= observed |mean|) / (1 + permutations), the Monte-Carlo
 * p-value that is never 0 (Phipson & Smyth, 2010). Seeded with {@link Rng}: the same inputs and seed give
 * the same p-value on every machine.
 *
 * @throws {ArgumentError} as {@link pairedTTest}, or for `permutations` < 1.
 * @example
 * ```ts
 * randomizationTest(ndcgA, ndcgB, { permutations: 10000, seed: 42 }).pValue;
 * ```
 */
export function randomizationTest(
  x: readonly number[],
  y: readonly number[],
  options: { permutations?: number; seed?: number } = {},
): TestResult {
  const d = differences(x, y);
  const permutations = options.permutations ?? 10000;
  if (!Number.isInteger(permutations) || permutations < 1) {
    throw new ArgumentError('permutations', `must be a positive integer, got ${permutations}`);
  }
  const rng = new Rng(options.seed ?? 0);
  const n = d.length;
  const observed = Math.abs(d.reduce((a, b) => a + b, 0));
  // Sums equal in exact arithmetic may differ in the last bits; count those as reaching the observed one.
  const threshold = observed - 1e-12 * Math.max(1, observed);
  let hits = 0;
  for (let p = 0; p < permutations; p++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += rng.next() < 0.5 ? d[i] : -d[i];
    if (Math.abs(sum) >= threshold) hits++;
  }
  return { statistic: d.reduce((a, b) => a + b, 0) / n, pValue: (hits + 1) / (permutations + 1) };
}

/**
 * Adjust p-values for multiple comparisons: `bonferroni` multiplies each by their number m; `holm`
 * (Holm, 1979) multiplies the i-th smallest by m - i + 1 and makes the sequence monotone; both capped at 1.
 * Holm controls the same family-wise error rate as Bonferroni and rejects at least as often.
 *
 * @example
 * ```ts
 * correctPValues([0.01, 0.04, 0.03], 'holm'); // [0.03, 0.06, 0.06]
 * ```
 */
export function correctPValues(pValues: readonly number[], correction: Correction): number[] {
  const m = pValues.length;
  if (correction === 'none') return [...pValues];
  if (correction === 'bonferroni') return pValues.map((p) => Math.min(1, p * m));
  if (correction !== 'holm')
    throw new ArgumentError('correction', `unknown correction '${String(correction)}'`);
  const order = pValues.map((_, i) => i).sort((a, b) => pValues[a] - pValues[b]);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach((index, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * pValues[index]));
    out[index] = running;
  });
  return out;
}

/**
 * Run the named paired test; `seed` and `permutations` only matter for the randomization test.
 *
 * @throws {ArgumentError} for an unknown test, or as the test itself throws.
 * @example
 * ```ts
 * pairedTest('wilcoxon', ndcgDense, ndcgBm25).pValue;
 * ```
 */
export function pairedTest(
  test: SignificanceTest,
  x: readonly number[],
  y: readonly number[],
  options: { permutations?: number; seed?: number } = {},
): TestResult {
  switch (test) {
    case 'paired-t':
      return pairedTTest(x, y);
    case 'wilcoxon':
      return wilcoxonTest(x, y);
    case 'randomization':
      return randomizationTest(x, y, options);
    default:
      throw new ArgumentError(
        'test',
        `unknown test '${String(test)}'; use paired-t, randomization or wilcoxon`,
      );
  }
}

/** Seed of the randomization test for the pair (i, j) of runs: independent of which other pairs run. */
function pairSeed(seed: number, i: number, j: number): number {
  return deriveSeed(seed, i, j);
}

/** Options of {@link compareRuns}. */
export interface CompareRunsOptions {
  /** One trec_eval measure name (`'ndcg_cut.10'`, `'map'`, `'recip_rank'`, ...); not a count such as `num_rel`. */
  measure: string;
  /** Paired test; default `'paired-t'`. */
  test?: SignificanceTest;
  /** Multiple-comparison correction over all pairs tested; default `'holm'`. */
  correction?: Correction;
  /** Rounds of the randomization test; default 10000. */
  permutations?: number;
  /** Seed of the randomization test; default 0. */
  seed?: number;
  /** Test every run against this one; without it, every pair of runs. */
  baseline?: string;
  /** Significance level for {@link PairComparison.significant}; default 0.05. */
  alpha?: number;
  /**
   * trec_eval `-c`: score every query of the qrels, a run missing a query scoring 0 on it. Default false:
   * only the queries every run retrieved for (and that have judgements).
   */
  complete?: boolean;
  /** BEIR's `ignore_identical_ids`, as in {@link evaluateRun}. */
  ignoreIdenticalIds?: boolean;
}

/** One tested pair: `run` against `baseline`, differences `run - baseline`. */
export interface PairComparison {
  baseline: string;
  run: string;
  /** Mean of the per-query differences (the effect size). */
  meanDifference: number;
  /** 95 % confidence interval of the mean difference (Student's t, whatever the test). */
  ci95: [number, number];
  /** The test's statistic (see {@link TestResult}). */
  statistic: number;
  pValue: number;
  /** p-value after the correction over all pairs tested. */
  pValueCorrected: number;
  /** pValueCorrected < alpha. */
  significant: boolean;
}

/** Result of {@link compareRuns}. */
export interface RunComparison {
  /** Output name of the measure (`ndcg_cut_10`). */
  measure: string;
  test: SignificanceTest;
  correction: Correction;
  alpha: number;
  /** The queries compared, in trec_eval (strcmp) order. */
  queries: string[];
  /** Per run, in input order: the per-query scores (aligned with `queries`) and their mean. */
  runs: { name: string; mean: number; perQuery: number[] }[];
  pairs: PairComparison[];
}

/**
 * Compare runs on one measure with a paired significance test: per-query scores over the queries all runs
 * share (or, with `complete`, over every judged query, as trec_eval `-c`), each run against the baseline
 * (or every pair), with the test statistic, p-value, corrected p-value and the mean difference with its
 * 95 % confidence interval. This is what ranx's `compare` and the usual "†: p < 0.05 vs BM25" tables do.
 *
 * Per-query values are those of {@link evaluateRun}; for `gm_map` they are log(max(AP, 1e-5)), so its
 * test compares log AP, and its mean is the geometric mean.
 *
 * @param runs name → run, in the order results are reported.
 * @throws {ArgumentError} for a measure that is not exactly one per-query measure, fewer than two runs,
 *   an unknown baseline, test or correction, a run sharing no judged query with the qrels, or fewer than
 *   two queries to compare.
 * @example
 * ```ts
 * const result = compareRuns(qrels, new Map([['bm25', bm25Run], ['dense', denseRun]]), {
 *   measure: 'ndcg_cut.10', test: 'randomization', correction: 'holm', baseline: 'bm25', seed: 1,
 * });
 * for (const p of result.pairs) console.log(p.run, p.meanDifference, p.pValueCorrected, p.significant);
 * ```
 */
export function compareRuns(
  qrels: Qrels,
  runs: ReadonlyMap<string, Run>,
  options: CompareRunsOptions,
): RunComparison {
  const specs = parseMeasures([options.measure]);
  if (specs.length !== 1) {
    throw new ArgumentError('measure', `must name one measure; '${options.measure}' names ${specs.length}`);
  }
  const spec = specs[0];
  if (measureAggregation(spec.family) === 'sum') {
    throw new ArgumentError(
      'measure',
      `'${spec.key}' is a count over queries, not a per-query score to test`,
    );
  }
  const test = options.test ?? 'paired-t';
  if (!['paired-t', 'randomization', 'wilcoxon'].includes(test)) {
    throw new ArgumentError(
      'test',
      `unknown test '${String(test)}'; use paired-t, randomization or wilcoxon`,
    );
  }
  const correction = options.correction ?? 'holm';
  if (!['bonferroni', 'holm', 'none'].includes(correction)) {
    throw new ArgumentError(
      'correction',
      `unknown correction '${String(correction)}'; use holm, bonferroni or none`,
    );
  }
  const alpha = options.alpha ?? 0.05;
  if (!(alpha > 0 && alpha < 1)) throw new ArgumentError('alpha', `must be in (0, 1), got ${alpha}`);
  const names = [...runs.keys()];
  if (names.length < 2)
    throw new ArgumentError('runs', `need at least two runs to compare, got ${names.length}`);
  if (options.baseline !== undefined && !runs.has(options.baseline)) {
    throw new ArgumentError('baseline', `'${options.baseline}' is not one of the runs (${names.join(', ')})`);
  }

  const perRun = names.map((name) => {
    try {
      return evaluateRun(qrels, runs.get(name) as Run, [options.measure], {
        ignoreIdenticalIds: options.ignoreIdenticalIds,
      }).perQuery;
    } catch (error) {
      if (error instanceof ArgumentError) throw new ArgumentError('runs', `run '${name}': ${error.message}`);
      throw error;
    }
  });
  let queries: string[];
  if (options.complete) {
    queries = [...qrels].filter(([, judgments]) => judgments.size > 0).map(([qid]) => qid);
  } else {
    queries = [...perRun[0].keys()].filter((qid) => perRun.every((p) => p.has(qid)));
  }
  queries.sort(compareIds);
  if (queries.length < 2) {
    throw new ArgumentError(
      'runs',
      `the runs share ${queries.length} judged queries; a paired test needs 2 or more`,
    );
  }
  // What a run that did not retrieve for a query scores on it (trec_eval -c): 0, or gm_map's log floor.
  const missing = spec.family === 'gm_map' ? Math.log(MIN_GEO_MEAN) : 0;
  const vectors = perRun.map((p) => queries.map((qid) => p.get(qid)?.[spec.key] ?? missing));
  const average = (v: number[]): number => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    return measureAggregation(spec.family) === 'geometric' ? Math.exp(m) : m;
  };

  const pairIndices: [number, number][] = [];
  if (options.baseline !== undefined) {
    const b = names.indexOf(options.baseline);
    names.forEach((_, i) => i !== b && pairIndices.push([b, i]));
  } else {
    for (let i = 0; i < names.length; i++)
      for (let j = i + 1; j < names.length; j++) pairIndices.push([i, j]);
  }
  const seed = options.seed ?? 0;
  const raw = pairIndices.map(([b, r]) => {
    const t = pairedTTest(vectors[r], vectors[b]);
    const result =
      test === 'paired-t'
        ? t
        : pairedTest(test, vectors[r], vectors[b], {
            permutations: options.permutations,
            seed: pairSeed(seed, b, r),
          });
    return { b, r, t, result };
  });
  const corrected = correctPValues(
    raw.map((x) => x.result.pValue),
    correction,
  );
  const pairs = raw.map(({ b, r, t, result }, i): PairComparison => ({
    baseline: names[b],
    run: names[r],
    meanDifference: t.meanDifference,
    ci95: t.ci95,
    statistic: result.statistic,
    pValue: result.pValue,
    pValueCorrected: corrected[i],
    significant: corrected[i] < alpha,
  }));
  return {
    measure: spec.key,
    test,
    correction,
    alpha,
    queries,
    runs: names.map((name, i) => ({ name, mean: average(vectors[i]), perQuery: vectors[i] })),
    pairs,
  };
}
