import { ArgumentError } from '../errors.js';
import type { Matrix } from '../types.js';
import { createProgress } from '../util/progress.js';
import { ExactIndex } from './exact.js';
import { chooseMipsTransform, HnswIndex } from './hnsw.js';
import type { HnswIndexOptions } from './hnsw.js';
import { sample, spaceOf, tuneHnsw } from './tune.js';
import type { HnswTuning, TunedCandidate } from './tune.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import type { Metric } from './types.js';

/** Options of {@link buildTunedHnsw}. */
export interface BuildTunedOptions extends Omit<HnswIndexOptions, 'dim' | 'M'> {
  metric?: Metric;
  /** Recall@k to reach; default 0.98. */
  targetRecall?: number;
  k?: number;
  /** Out-degrees tried, ascending (the smallest that reaches the target wins); default [16, 32, 48]. */
  Ms?: number[];
  /**
   * Documents held out of the first build and used as queries: an integer in [1, max(1, floor(n / 10))]
   * for `n` vectors; default min(200, that bound), e.g. 38 of 380 vectors.
   */
  holdOut?: number;
  seed?: number;
  quiet?: boolean;
}

/**
 * The graph spaces tried for `metric`: under `ip` with `mipsTransform` 'auto' (or not given) both, the one
 * {@link chooseMipsTransform} picks first; a forced `mipsTransform` or another metric, the one space.
 */
function spacesFor(metric: Metric, mips: boolean | 'auto' | undefined, sample: Matrix): boolean[] {
  if (metric !== 'ip') return [false];
  if (mips === true || mips === false) return [mips];
  const first = chooseMipsTransform(sample);
  return [first, !first];
}

/**
 * Build an HNSW index that meets a recall target: for each `M` (ascending) and, under `ip`, each graph
 * space (the MIPS-to-L2 reduction and hnswlib's `ip` space, unless `mipsTransform` forces one), build the
 * graph on all documents but a held-out sample and tune `ef` with the held-out documents as queries
 * (recall@k against exact search over the same documents). The first `M` at which a space meets the target
 * wins, with the space that needs the smaller `ef` (then the higher recall); when nothing meets it, the
 * best recall tried. Then the held-out documents are added. The chosen `M`, space, `ef`, the measured recall
 * and every candidate tried are in `index.tuning` (saved with the index). Each candidate costs one build.
 *
 * @throws {ArgumentError} `Ms` is empty, an option key is unknown, `targetRecall`/`k`/`holdOut` are out of
 *   range, or `vectors` has fewer than 2 rows.
 *
 * @example
 * ```ts
 * import { buildTunedHnsw } from 'dense-retrieval';
 * const index = await buildTunedHnsw(corpus, ids, { metric: 'ip', targetRecall: 0.98 });
 * console.log(index.tuning); // { M: 16, space: 'l2-reduction', ef: 64, recall: 0.984, candidates: [...] }
 * ```
 */
export async function buildTunedHnsw(
  vectors: Matrix,
  ids: string[],
  options: BuildTunedOptions = {},
): Promise<HnswIndex> {
  checkOptionKeys('buildTunedHnsw', options, BUILD_TUNED_OPTION_KEYS);
  const { targetRecall, k, Ms = [16, 32, 48], holdOut, seed = 1, quiet, mipsTransform, ...rest } = options;
  if (!Array.isArray(Ms) || Ms.length === 0) throw new ArgumentError('Ms', 'needs at least one value');
  Ms.forEach((M, i) => {
    if (!Number.isInteger(M) || M < 1) {
      throw new ArgumentError(
        'Ms',
        `value ${M} at position ${i} is not a positive integer (a graph out-degree)`,
      );
    }
  });
  const n = vectors.rows;
  const d = vectors.cols;
  if (n < 2) {
    throw new ArgumentError('vectors', `needs at least 2 vectors (one held out as a query), got ${n}`);
  }
  // At most a tenth is held out, so the graph tuned is nearly the graph served; at least one query.
  const most = Math.max(1, Math.floor(n / 10));
  if (holdOut !== undefined && (!Number.isInteger(holdOut) || holdOut < 1 || holdOut > most)) {
    throw new ArgumentError(
      'holdOut',
      `must be an integer in [1, ${most}] (at most a tenth of the ${n} vectors), got ${holdOut}`,
    );
  }
  const held = new Set(sample(n, holdOut ?? Math.min(200, most), seed));
  const pick = (inside: boolean): { m: Matrix; ids: string[] } => {
    const rows = Array.from({ length: n }, (_, i) => i).filter((i) => held.has(i) === inside);
    const data = new Float32Array(rows.length * d);
    rows.forEach((r, i) => data.set(vectors.data.subarray(r * d, (r + 1) * d), i * d));
    return { m: { data, rows: rows.length, cols: d }, ids: rows.map((r) => ids[r]) };
  };
  const base = pick(false);
  const queries = pick(true);
  const metric = options.metric ?? 'ip';
  const exact = new ExactIndex({ dim: d, metric, truncateDim: rest.truncateDim });
  await exact.add(base.m, base.ids);
  const spaces = spacesFor(metric, mipsTransform, base.m);
  const candidates: TunedCandidate[] = [];
  let best: HnswIndex | undefined;
  const better = (t: HnswTuning, than: HnswTuning): boolean =>
    t.met !== than.met
      ? t.met
      : t.met
        ? t.ef < than.ef || (t.ef === than.ef && t.recall > than.recall)
        : t.recall > than.recall;
  for (const M of Ms) {
    for (const mips of spaces) {
      const index = new HnswIndex({
        ...rest,
        dim: d,
        M,
        capacity: n,
        ...(metric === 'ip' ? { mipsTransform: mips } : {}),
      });
      const progress = createProgress({
        total: base.m.rows,
        label: `hnsw build M=${M}${spaces.length > 1 ? ` ${spaceOf(index)}` : ''}`,
        unit: 'vectors',
        quiet,
      });
      for (let s = 0; s < base.m.rows; s += 1000) {
        const e = Math.min(base.m.rows, s + 1000);
        await index.add(
          { data: base.m.data.subarray(s * d, e * d), rows: e - s, cols: d },
          base.ids.slice(s, e),
        );
        progress.tick(e - s);
      }
      progress.done();
      const t = await tuneHnsw(index, { targetRecall, k, sampleQueries: queries.m, exact, quiet });
      t.source = 'held-out';
      t.M = M;
      t.space = spaceOf(index);
      candidates.push({
        M,
        space: t.space,
        ef: t.ef,
        recall: t.recall,
        recallLowerBound: t.recallLowerBound,
        met: t.met,
      });
      if (best === undefined || better(t, best.tuning!)) best = index;
    }
    if (best!.tuning!.met) break;
  }
  best!.tuning!.candidates = candidates;
  await best!.add(queries.m, queries.ids);
  return best!;
}

const BUILD_TUNED_OPTION_KEYS = optionKeys<BuildTunedOptions>({
  metric: true,
  targetRecall: true,
  k: true,
  Ms: true,
  holdOut: true,
  seed: true,
  quiet: true,
  efConstruction: true,
  efSearch: true,
  capacity: true,
  mipsTransform: true,
  truncateDim: true,
});
