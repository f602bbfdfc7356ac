import { ArgumentError } from '../errors.js';

/**
 * Measured points of the default query beam: `[n, ef]`, the smallest `ef` whose recall@10 against exact
 * search reached 0.98 with 95 % confidence (mean minus 1.645 standard errors over 300 held-out queries) on
 * `n` random unit 384-d vectors (cosine, M 48, efConstruction 200), the worst case we promise for.
 * Measured with `scripts/measure-default-ef.ts` (1k-50k, one incremental build, 2026-11-30); the 100k
 * point is the recorded one of docs/index-tuning.md (ef 1536: 0.983 on 200 queries; 1024: 0.945).
 * The beam grows as about n^0.76 from 10k on. Structured data (rank 32) needs far less (docs/index-tuning.md).
 */
export const DEFAULT_EF_MEASUREMENTS: readonly (readonly [n: number, ef: number])[] = [
  [1000, 67],
  [2000, 95],
  [5000, 160],
  [10000, 269],
  [20000, 453],
  [50000, 905],
  [100000, 1536],
];

/**
 * Factor over the measured beams: the points are one build and one query sample each, and recall near
 * 0.98 moves by about a point per 20 % of `ef`; a second data set and graph seed must meet the target too.
 */
export const DEFAULT_EF_MARGIN = 1.25;

/**
 * The query beam an {@link HnswIndex} without an explicit `efSearch` searches with, from its number of
 * live vectors `n` and the depth `k`: the measured beams ({@link DEFAULT_EF_MEASUREMENTS}) interpolated
 * linearly in log(n)-log(ef) (monotone: the points rise), times {@link DEFAULT_EF_MARGIN}, rounded up.
 * Below the smallest measured size the smallest point's beam; beyond the largest, the growth of the last
 * measured segment (ef ∝ n^0.76 between 50k and 100k) is extrapolated. Never below `k` (hnswlib searches
 * with at least `k`) and never above `max(n, k)` (a beam of `n` already holds every vector).
 *
 * What it promises: recall@10 >= 0.98 against exact search on random unit 384-d vectors at M 48 and
 * efConstruction 200 (checked in `test/index/hnsw.test.ts` at 2k and 5k). Real embeddings have a far
 * lower intrinsic dimension and reach that with less (docs/index-tuning.md); `HnswIndex.tune` measures the
 * beam a given corpus needs. Vectors of much higher intrinsic dimension than 384 may need more.
 *
 * @param n - live vectors in the index (>= 0).
 * @param k - results per query; default 10.
 * @returns the beam width `ef` (an integer >= `k`).
 * @throws {ArgumentError} when `n` is not a non-negative integer or `k` not a positive integer.
 *
 * @example
 * ```ts
 * import { defaultEfSearch } from 'dense-retrieval';
 * defaultEfSearch(5000); // 200
 * defaultEfSearch(5000, 500); // 500: never below k
 * ```
 */
export function defaultEfSearch(n: number, k = 10): number {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ArgumentError('n', `must be a non-negative integer, got ${n}`);
  }
  if (!Number.isSafeInteger(k) || k < 1) throw new ArgumentError('k', `must be a positive integer, got ${k}`);
  const p = DEFAULT_EF_MEASUREMENTS;
  let logEf: number;
  if (n <= p[0][0]) logEf = Math.log(p[0][1]);
  else {
    // The segment holding n, or the last one (extrapolated) beyond the largest measured size.
    let i = 1;
    while (i < p.length - 1 && n > p[i][0]) i++;
    const [n0, e0] = p[i - 1];
    const [n1, e1] = p[i];
    const t = (Math.log(n) - Math.log(n0)) / (Math.log(n1) - Math.log(n0));
    logEf = Math.log(e0) + t * (Math.log(e1) - Math.log(e0));
  }
  // The 1e-9 keeps a point that lands exactly on an integer from rounding up past it.
  const ef = Math.ceil(DEFAULT_EF_MARGIN * Math.exp(logEf) - 1e-9);
  return Math.max(k, Math.min(ef, n));
}

/** The largest corpus size {@link DEFAULT_EF_MEASUREMENTS} holds. */
const LARGEST_MEASURED = DEFAULT_EF_MEASUREMENTS[DEFAULT_EF_MEASUREMENTS.length - 1][0];

/**
 * Build defaults of {@link HnswIndex}: `M` 48 and `efConstruction` 200 for every index (measured in
 * docs/index-tuning.md: at every size measured M 48 reaches recall@10 0.98 with a smaller beam than
 * M 16 or 32, and neither can change after the build, while the corpus may still grow). `efSearch` is
 * the default beam at the largest measured size (100k vectors, {@link defaultEfSearch}); an index without
 * an explicit `efSearch` no longer uses this number but {@link defaultEfSearch} of its current size.
 */
export const HNSW_DEFAULTS: { readonly M: 48; readonly efConstruction: 200; readonly efSearch: number } = {
  M: 48,
  efConstruction: 200,
  efSearch: defaultEfSearch(LARGEST_MEASURED),
};
