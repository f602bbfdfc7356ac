import { ArgumentError } from '../errors.js';
import type { Matrix } from '../types.js';
import { createProgress } from '../util/progress.js';
import { ExactIndex } from './exact.js';
import { HnswIndex } from './hnsw.js';
import type { HnswIndexOptions } from './hnsw.js';
import { sample, tuneHnsw } from './tune.js';
import type { Metric } from './types.js';

/** Options of {@link buildTunedHnsw}. */
export interface BuildTunedOptions extends Omit<HnswIndexOptions, 'dim' | 'M'> {
  metric?: Metric;
  /** Recall@k to reach; default 0.98. */
  targetRecall?: number;
  k?: number;
  /** Out-degrees tried, ascending (the smallest that reaches the target wins); default [16, 32, 48]. */
  Ms?: number[];
  /** Documents held out of the first build and used as queries; default 200 (at most a tenth). */
  holdOut?: number;
  seed?: number;
  quiet?: boolean;
}

/**
 * Build an HNSW index that meets a recall target: for each `M` (ascending) build the graph on all
 * documents but a held-out sample, tune `ef` with the held-out documents as queries (recall@k against
 * exact search over the same documents), and keep the first `M` that meets the target (else the best
 * recall); then add the held-out documents. The chosen `M`, `ef` and measured recall are in
 * `index.tuning`. Each `M` tried costs one build.
 *
 * @example
 * ```ts
 * import { buildTunedHnsw } from 'dense-retrieval';
 * const index = await buildTunedHnsw(corpus, ids, { metric: 'cosine', targetRecall: 0.98 });
 * console.log(index.tuning); // { M: 16, ef: 64, recall: 0.984, ... }
 * ```
 */
export async function buildTunedHnsw(
  vectors: Matrix,
  ids: string[],
  options: BuildTunedOptions = {},
): Promise<HnswIndex> {
  const { targetRecall, k, Ms = [16, 32, 48], holdOut, seed = 1, quiet, ...rest } = options;
  if (Ms.length === 0) throw new ArgumentError('Ms', 'needs at least one value');
  const n = vectors.rows;
  const d = vectors.cols;
  const held = new Set(sample(n, Math.min(holdOut ?? 200, Math.floor(n / 10)), seed));
  const pick = (inside: boolean): { m: Matrix; ids: string[] } => {
    const rows = Array.from({ length: n }, (_, i) => i).filter((i) => held.has(i) === inside);
    const data = new Float32Array(rows.length * d);
    rows.forEach((r, i) => data.set(vectors.data.subarray(r * d, (r + 1) * d), i * d));
    return { m: { data, rows: rows.length, cols: d }, ids: rows.map((r) => ids[r]) };
  };
  const base = pick(false);
  const queries = pick(true);
  const exact = new ExactIndex({ dim: d, metric: options.metric ?? 'ip', truncateDim: rest.truncateDim });
  await exact.add(base.m, base.ids);
  let best: HnswIndex | undefined;
  for (const M of Ms) {
    const index = new HnswIndex({ ...rest, dim: d, M, capacity: n });
    const progress = createProgress({
      total: base.m.rows,
      label: `hnsw build M=${M}`,
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
    if (best === undefined || t.recall > best.tuning!.recall || (t.met && !best.tuning!.met)) best = index;
    if (t.met) break;
  }
  await best!.add(queries.m, queries.ids);
  return best!;
}
