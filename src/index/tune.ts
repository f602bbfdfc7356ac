import { ArgumentError } from '../errors.js';
import type { Matrix } from '../types.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { checkMatrixShape } from '../util/matrix.js';
import { createProgress } from '../util/progress.js';
import { dims, fitToIndex } from '../util/truncate.js';
import { checkMatrix } from './validate.js';
import { ExactIndex } from './exact.js';
import type { HnswIndex } from './hnsw.js';
import type { VectorIndex } from './types.js';

/** Options of {@link HnswIndex.tune}. */
export interface TuneOptions {
  /**
   * Recall@k against exact search to reach, in (0, 1]; default 0.98. Each extra "9" roughly doubles the
   * `ef` (and the query time) it takes.
   */
  targetRecall?: number;
  /** Depth the recall is measured at; default 10. */
  k?: number;
  /**
   * Queries to measure on; use real (or held-out) queries when you have them. Default: up to
   * `sampleSize` stored documents, each searched with `k + 1` and its own id dropped from both lists.
   * That default is optimistic: a stored document sits in the graph, so its neighbours are easier to
   * reach than a new query's (on 3000 random 32-d vectors, M 4: 0.90 on documents at the ef where new
   * queries got 0.83). `buildTunedHnsw` holds documents out of the graph instead.
   */
  sampleQueries?: Matrix;
  /** Stored documents drawn as queries when `sampleQueries` is not given: a positive integer, default 200. */
  sampleSize?: number;
  /**
   * The exact reference: the same documents, metric and (truncated) dimension as the index, else an
   * `ArgumentError`; default: built here from the stored vectors.
   */
  exact?: VectorIndex;
  /**
   * `ef` values tried (positive integers, tried ascending; those below the search depth are skipped);
   * default a ladder from `k` to 4096.
   */
  efs?: number[];
  /** Seed of the document sample; default 1. */
  seed?: number;
  quiet?: boolean;
}

/** What a tuning measured; {@link HnswIndex.tune} stores it in the index (and its file). */
export interface HnswTuning {
  targetRecall: number;
  k: number;
  /** The `ef` chosen: the smallest tried that met the target (else the best tried). */
  ef: number;
  /** Recall@k measured at `ef` (mean over the sample queries). */
  recall: number;
  /**
   * One-sided 95 % lower confidence bound of the recall at `ef` for new queries like the sample
   * (mean - 1.645 x standard error over queries): `met` asks this, not the mean, to reach the target, so
   * the target also holds on queries the tuning did not see.
   */
  recallLowerBound: number;
  /** Whether `recallLowerBound >= targetRecall`. */
  met: boolean;
  /** Queries measured on, and whether they were stored documents (self-excluded) or given queries. */
  queries: number;
  source: 'documents' | 'queries' | 'held-out';
  /** Every `ef` tried with its recall and lower bound, ascending. */
  curve: { ef: number; recall: number; recallLowerBound: number }[];
  /** Graph out-degree (set when {@link buildTunedHnsw} chose it). */
  M?: number;
  /** The graph's space: `l2-reduction` or `ip` under metric `ip` (the MIPS-to-L2 reduction or hnswlib's). */
  space?: HnswSpace;
  /** Every graph {@link buildTunedHnsw} built and tuned (M, space, ef, recall), in the order tried. */
  candidates?: TunedCandidate[];
}

/** One graph built and tuned by {@link buildTunedHnsw}. */
export interface TunedCandidate {
  M: number;
  space: HnswSpace;
  ef: number;
  recall: number;
  recallLowerBound: number;
  met: boolean;
}

/** The space an HNSW graph is built in: the metric's own, or under `ip` the MIPS-to-L2 reduction. */
export type HnswSpace = 'cosine' | 'l2' | 'ip' | 'l2-reduction';

/** The space of `index`'s graph (`'ip'` before an `'auto'` index has decided). */
export function spaceOf(index: HnswIndex): HnswSpace {
  if (index.metric !== 'ip') return index.metric;
  return index.mipsTransform ? 'l2-reduction' : 'ip';
}

const TUNE_OPTION_KEYS = optionKeys<TuneOptions>({
  targetRecall: true,
  k: true,
  sampleQueries: true,
  sampleSize: true,
  exact: true,
  efs: true,
  seed: true,
  quiet: true,
});

const LADDER = [16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096];

/** Seeded sample of `count` distinct integers from [0, n) (partial Fisher-Yates, mulberry32). */
export function sample(n: number, count: number, seed: number): number[] {
  let a = seed >>> 0;
  const rand = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const idx = Array.from({ length: n }, (_, i) => i);
  const m = Math.min(n, count);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rand() * (n - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, m);
}

/**
 * Mean per-query recall@k and its one-sided 95 % lower confidence bound. A query's denominator is the
 * number of true neighbours it has (its exact list cut at `k`), not `k`: on an index of `k` documents or
 * fewer, a stored document as query has only `size - 1` others, and dividing by `k` capped the recall
 * below 1 at every `ef` (as {@link recallOfResults}).
 */
function recallWithBound(got: string[][], want: string[][], k: number): { recall: number; lower: number } {
  const per = want.map((truth, i) => {
    const t = new Set(truth.slice(0, k));
    return got[i].slice(0, k).filter((id) => t.has(id)).length / t.size;
  });
  const n = per.length;
  const mean = per.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? per.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return { recall: mean, lower: mean - 1.645 * Math.sqrt(variance / n) };
}

/** `efs` as given: positive integers (sorted ascending, duplicates dropped), naming the first bad value. */
function checkEfs(efs: number[] | undefined): number[] | undefined {
  if (efs === undefined) return undefined;
  if (!Array.isArray(efs) || efs.length === 0) {
    throw new ArgumentError('efs', 'must be a non-empty array of positive integers');
  }
  efs.forEach((e, i) => {
    if (!Number.isInteger(e) || e < 1) {
      throw new ArgumentError(
        'efs',
        `value ${e} at position ${i} is not a positive integer (every ef must be >= 1)`,
      );
    }
  });
  return [...new Set(efs)].sort((a, b) => a - b);
}

/**
 * A given exact reference must search the graph's documents the graph's way: a different metric, width
 * or corpus gives a recall that measures the mismatch, not the graph (l2 against cosine: 0.67 on a graph
 * that finds every neighbour).
 */
function checkReference(index: HnswIndex, exact: VectorIndex): void {
  const what = (x: VectorIndex): string => `${x.size} x ${x.dim} ${x.metric}`;
  if (exact.metric !== index.metric || exact.dim !== index.dim || exact.size !== index.size) {
    throw new ArgumentError(
      'exact',
      `does not match the index (index: ${what(index)}, exact: ${what(exact)}): build it over the same ` +
        `documents with the same metric${index.truncateDim === undefined ? '' : ` and truncateDim ${index.truncateDim}`}`,
    );
  }
}

/** Every id the given reference returns must be a document of the index: a cheap sample of the corpus. */
function checkReferenceIds(index: HnswIndex, truth: string[][]): void {
  const live = new Set(index.documentIds);
  for (const list of truth) {
    for (const id of list) {
      if (!live.has(id)) {
        throw new ArgumentError(
          'exact',
          `returned id '${id}', which the index does not hold: build it over the same documents`,
        );
      }
    }
  }
}

/** Drop `self` from a ranked id list and keep `k`. */
function withoutSelf(list: string[], self: string, k: number): string[] {
  return list.filter((id) => id !== self).slice(0, k);
}

/**
 * Measure recall@k of `index` for rising `ef` and set `index.efSearch` to the smallest that meets
 * `targetRecall` (the implementation of {@link HnswIndex.tune}).
 */
export async function tuneHnsw(index: HnswIndex, options: TuneOptions = {}): Promise<HnswTuning> {
  checkOptionKeys('tune', options, TUNE_OPTION_KEYS);
  const target = options.targetRecall ?? 0.98;
  if (!(target > 0 && target <= 1))
    throw new ArgumentError('targetRecall', `must be in (0, 1], got ${target}`);
  const k = options.k ?? 10;
  if (!Number.isInteger(k) || k < 1) throw new ArgumentError('k', `must be a positive integer, got ${k}`);
  if (index.size === 0) throw new ArgumentError('index', 'cannot tune an empty index (add vectors first)');
  const sampleSize = options.sampleSize ?? 200;
  if (!Number.isInteger(sampleSize) || sampleSize < 1) {
    throw new ArgumentError('sampleSize', `must be a positive integer, got ${sampleSize}`);
  }
  if (options.sampleQueries === undefined && index.size < 2) {
    throw new ArgumentError(
      'index',
      'holds 1 document: a stored document as query has no other neighbour to find (pass sampleQueries)',
    );
  }
  if (options.sampleQueries !== undefined) {
    if (checkMatrixShape('sampleQueries', options.sampleQueries).rows === 0) {
      throw new ArgumentError('sampleQueries', 'no query vectors');
    }
    checkMatrix('sampleQueries', fitToIndex(options.sampleQueries, index.inputDim, index.dim), index.dim);
  }
  const ladder = checkEfs(options.efs);
  const stored =
    options.exact === undefined || options.sampleQueries === undefined ? index.storedVectors() : undefined;
  let exact = options.exact;
  if (exact === undefined) {
    // The reference searches what the graph searches: the same (truncated) width, metric and documents.
    const e = new ExactIndex({ ...dims(index.dim, index.inputDim), metric: index.metric });
    await e.add(stored!.vectors, stored!.ids);
    exact = e;
  } else checkReference(index, exact);
  let queries: Matrix;
  let selves: string[] | undefined;
  if (options.sampleQueries !== undefined) queries = options.sampleQueries;
  else {
    const rows = sample(stored!.ids.length, sampleSize, options.seed ?? 1);
    const d = index.dim;
    const data = new Float32Array(rows.length * d);
    rows.forEach((r, i) => data.set(stored!.vectors.data.subarray(r * d, (r + 1) * d), i * d));
    queries = { data, rows: rows.length, cols: d };
    selves = rows.map((r) => stored!.ids[r]);
  }
  const depth = Math.min(selves === undefined ? k : k + 1, index.size);
  const truth = (await exact.search(queries, depth)).ids;
  if (options.exact !== undefined) checkReferenceIds(index, truth);
  const trim = (lists: string[][]): string[][] =>
    selves === undefined ? lists : lists.map((l, i) => withoutSelf(l, selves![i], k));
  const want = trim(truth);
  const efs = (ladder ?? [k, ...LADDER.filter((e) => e > k)]).filter((e) => e >= depth);
  if (efs.length === 0) {
    throw new ArgumentError(
      'efs',
      `every value is below the search depth ${depth} (${selves === undefined ? 'k' : 'k + 1: stored documents are the queries'}, ` +
        `at most the index size); got ${ladder!.join(', ')}`,
    );
  }
  const curve: HnswTuning['curve'] = [];
  const progress = createProgress({
    total: efs.length,
    label: 'tune ef',
    unit: 'steps',
    quiet: options.quiet !== false,
  });
  let chosen: HnswTuning['curve'][number] | undefined;
  for (const ef of efs) {
    const got = trim((await index.search(queries, depth, { ef })).ids);
    const { recall, lower } = recallWithBound(got, want, Math.min(k, depth));
    const point = { ef, recall, recallLowerBound: lower };
    curve.push(point);
    progress.tick(1);
    if (lower >= target) {
      chosen = point;
      break;
    }
  }
  progress.done();
  const best = chosen ?? curve.reduce((a, b) => (b.recall > a.recall ? b : a));
  index.efSearch = best.ef;
  const tuning: HnswTuning = {
    targetRecall: target,
    k,
    ef: best.ef,
    recall: best.recall,
    recallLowerBound: best.recallLowerBound,
    met: chosen !== undefined,
    queries: queries.rows,
    source: selves === undefined ? 'queries' : 'documents',
    curve,
    M: index.M,
    space: spaceOf(index),
  };
  index.tuning = tuning;
  return tuning;
}
