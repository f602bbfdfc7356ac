import type { Matrix } from '../types.js';
import { loadHnswlib } from './hnswlib-loader.js';
import { sample } from './tune.js';

/** What {@link measureIpSpaces} measured: recall@10 of each graph space on a sample of the vectors. */
export interface IpSpaceMeasurement {
  /** Recall@10 of the MIPS-to-L2 reduction's graph. */
  reduction: number;
  /** Recall@10 of hnswlib's `ip` space. */
  ip: number;
  /** Vectors in each graph, and held-out vectors used as queries. */
  vectors: number;
  queries: number;
  /** The beam the recall was measured at. */
  ef: number;
}

/** Fewest vectors in a first batch for `'auto'` to measure the spaces instead of reading the norms. */
export const MEASURED_AUTO_MIN = 1000;

/**
 * Build both graphs an `ip` index can use on a sample of `vectors` (up to 2,000: the first 100 of a seeded
 * shuffle held out as queries) and measure recall@10 against exact inner-product search at a low beam
 * (`ef` 40), where the two differ most. Neither norm statistic we tried predicts the better space: the
 * reduction wins on nearly equal norms around a shared direction in one distribution and loses badly
 * on another of the same norm spread (untrained-model SciFact embeddings: 0.74 vs 0.97 at ef 40), so
 * `mipsTransform: 'auto'` measures. Costs two builds of the sample: 7-8 s at 384-d, M 16-48, efConstruction 200 on a
 * loaded 2-core machine; small against the build of a corpus large enough to need HNSW.
 */
export function measureIpSpaces(
  vectors: Matrix,
  graph: { M: number; efConstruction: number; seed: number },
): IpSpaceMeasurement {
  const { rows, cols: d, data } = vectors;
  const picked = sample(rows, Math.min(rows, 2000), graph.seed);
  const nq = Math.min(100, Math.floor(picked.length / 10));
  const queries = picked.slice(0, nq);
  const base = picked.slice(nq);
  const ef = 40;
  const k = Math.min(10, base.length);
  // Exact inner-product top-k of each query over the base sample.
  const truth = queries.map((q) => {
    const scores = base.map((r) => {
      let s = 0;
      for (let j = 0; j < d; j++) s += data[q * d + j] * data[r * d + j];
      return s;
    });
    const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
    return new Set(order.slice(0, k));
  });
  let maxSq = 0;
  const sq = base.map((r) => {
    let s = 0;
    for (let j = 0; j < d; j++) s += data[r * d + j] ** 2;
    maxSq = Math.max(maxSq, s);
    return s;
  });
  const hnswlib = loadHnswlib();
  const recallOf = (reduction: boolean): number => {
    const dim = d + (reduction ? 1 : 0);
    const index = new hnswlib.HierarchicalNSW(reduction ? 'l2' : 'ip', dim);
    index.initIndex({
      maxElements: base.length,
      m: graph.M,
      efConstruction: graph.efConstruction,
      randomSeed: graph.seed,
    });
    const point = new Array<number>(dim).fill(0);
    base.forEach((r, i) => {
      for (let j = 0; j < d; j++) point[j] = data[r * d + j];
      if (reduction) point[d] = Math.sqrt(Math.max(0, maxSq - sq[i]));
      index.addPoint(point, i);
    });
    index.setEf(ef);
    let hits = 0;
    queries.forEach((q, qi) => {
      for (let j = 0; j < d; j++) point[j] = data[q * d + j];
      if (reduction) point[d] = 0;
      for (const label of index.searchKnn(point, k).neighbors) if (truth[qi].has(label)) hits++;
    });
    return hits / (queries.length * k);
  };
  return { reduction: recallOf(true), ip: recallOf(false), vectors: base.length, queries: nq, ef };
}
