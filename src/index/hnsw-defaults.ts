import { ArgumentError } from '../errors.js';

/** A measured curve of the default query beam: `[n, ef]` points, ascending in `n` and in `ef`. */
export type EfCurve = readonly (readonly [n: number, ef: number])[];

/**
 * Measured points of the default query beam at M 48 (the default): `[n, ef]`, the smallest `ef` whose
 * recall@10 against exact search reached 0.98 with 95 % confidence (mean minus 1.645 standard errors over
 * 300 held-out queries) on `n` random unit 384-d vectors (cosine, efConstruction 200), the worst case we
 * promise for. Measured with `scripts/measure-default-ef.ts` (1k-50k, one incremental build, 2026-11-30);
 * the 100k point is the recorded one of docs/index-tuning.md (ef 1536: 0.983 on 200 queries; 1024: 0.945).
 * The beam grows as about n^0.76 from 10k on. Structured data (rank 32) needs far less (docs/index-tuning.md).
 */
export const DEFAULT_EF_MEASUREMENTS: EfCurve = [
  [1000, 67],
  [2000, 95],
  [5000, 160],
  [10000, 269],
  [20000, 453],
  [50000, 905],
  [100000, 1536],
];

/**
 * The same measurement at M 16 (`scripts/measure-default-ef.ts random 20000 16`): a sparser graph needs
 * a 1.7-3.4x wider beam, and the gap grows with the size (ef ∝ n^1.0 between 10k and 20k).
 */
export const DEFAULT_EF_MEASUREMENTS_M16: EfCurve = [
  [1000, 113],
  [2000, 226],
  [5000, 453],
  [10000, 761],
  [20000, 1522],
];

/**
 * Factor over the measured beams: the points are one build and one query sample each, and recall near
 * 0.98 moves by about a point per 20 % of `ef`; a second data set and graph seed must meet the target too.
 */
export const DEFAULT_EF_MARGIN = 1.25;

/**
 * log(ef) of `curve` at `n`: linear in log(n)-log(ef) between points, the first point's beam below the
 * first size, the last segment's growth extrapolated beyond the last size.
 */
function logEfOf(curve: EfCurve, n: number): number {
  if (n <= curve[0][0]) return Math.log(curve[0][1]);
  let i = 1;
  while (i < curve.length - 1 && n > curve[i][0]) i++;
  const [n0, e0] = curve[i - 1];
  const [n1, e1] = curve[i];
  const t = (Math.log(n) - Math.log(n0)) / (Math.log(n1) - Math.log(n0));
  return Math.log(e0) + t * (Math.log(e1) - Math.log(e0));
}

/**
 * The query beam an {@link HnswIndex} without an explicit `efSearch` searches with, from its number of
 * live vectors `n`, the depth `k` and its out-degree `M`: the measured beams at M 48
 * ({@link DEFAULT_EF_MEASUREMENTS}) interpolated linearly in log(n)-log(ef), times
 * {@link DEFAULT_EF_MARGIN}, rounded up. Below the smallest measured size the smallest point's beam; beyond
 * the largest, the growth of the last measured segment (ef ∝ n^0.76 between 50k and 100k) is extrapolated.
 * For `M` below 48 the beam is interpolated in log(M) towards the M-16 measurements
 * ({@link DEFAULT_EF_MEASUREMENTS_M16}); below 16 (unmeasured) it is the M-16 beam, and `M` above 48 keeps
 * the M-48 beam (a denser graph needs no more). Never below `k` (hnswlib searches with at least `k`) and
 * never above `max(n, k)` (a beam of `n` already holds every vector). Monotone in `n`.
 *
 * What it promises: recall@10 >= 0.98 against exact search on random unit 384-d vectors at efConstruction
 * 200 (checked in `test/index/hnsw-defaults.test.ts` at 2k and 5k, at M 48 and 16). Real embeddings have a
 * far lower intrinsic dimension and reach that with less (docs/index-tuning.md); `HnswIndex.tune` measures
 * the beam a given corpus needs. Data of higher intrinsic dimension, or `M` below 16, may need more.
 *
 * @param n - live vectors in the index (>= 0).
 * @param k - results per query; default 10.
 * @param M - the graph's out-degree; default 48 ({@link HNSW_DEFAULTS}).
 * @returns the beam width `ef` (an integer >= `k`).
 * @throws {ArgumentError} when `n` is not a non-negative integer, or `k` or `M` not a positive integer.
 *
 * @example
 * ```ts
 * import { defaultEfSearch } from 'dense-retrieval';
 * defaultEfSearch(5000); // 200
 * defaultEfSearch(5000, 500); // 500: never below k
 * defaultEfSearch(5000, 10, 16); // 567: a sparser graph needs a wider beam
 * ```
 */
export function defaultEfSearch(n: number, k = 10, M = 48): number {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ArgumentError('n', `must be a non-negative integer, got ${n}`);
  }
  if (!Number.isSafeInteger(k) || k < 1) throw new ArgumentError('k', `must be a positive integer, got ${k}`);
  if (!Number.isSafeInteger(M) || M < 1) throw new ArgumentError('M', `must be a positive integer, got ${M}`);
  let logEf = logEfOf(DEFAULT_EF_MEASUREMENTS, n);
  if (M < 48) {
    const t = Math.min(1, Math.log(48 / M) / Math.log(48 / 16));
    // The M-16 curve lies above the M-48 one at every size (measured, and its growth is steeper), so the
    // mix rises with n and falls with M.
    logEf += t * Math.max(0, logEfOf(DEFAULT_EF_MEASUREMENTS_M16, n) - logEf);
  }
  // The 1e-9 keeps a point that lands exactly on an integer from rounding up past it.
  const ef = Math.ceil(DEFAULT_EF_MARGIN * Math.exp(logEf) - 1e-9);
  return Math.max(k, Math.min(ef, n));
}

/** The largest corpus size {@link DEFAULT_EF_MEASUREMENTS} holds. */
const LARGEST_MEASURED = DEFAULT_EF_MEASUREMENTS[DEFAULT_EF_MEASUREMENTS.length - 1][0];

/**
 * Build defaults of {@link HnswIndex}: `M` 48 and `efConstruction` 200 for every index (measured in
 * docs/index-tuning.md: M 48 reaches recall@10 0.98 with a 1.7-3.4x narrower beam than M 16 at every size
 * measured, at about the same number of distance computations, and neither can change after the build
 * while the corpus may still grow). `efSearch` is the default beam at the largest measured size (100k
 * vectors, {@link defaultEfSearch}); an index without an explicit `efSearch` no longer uses this number
 * but {@link defaultEfSearch} of its current size.
 */
export const HNSW_DEFAULTS: { readonly M: 48; readonly efConstruction: 200; readonly efSearch: number } = {
  M: 48,
  efConstruction: 200,
  efSearch: defaultEfSearch(LARGEST_MEASURED),
};
