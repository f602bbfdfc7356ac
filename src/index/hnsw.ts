import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ArgumentError, InputFormatError } from '../errors.js';
import type { Matrix } from '../types.js';
import { removeStaleTemps } from '../util/atomic.js';
import { compareIds } from '../eval/metrics.js';
import {
  headerField,
  jsonSection,
  parseIdsSection,
  parseJsonSection,
  readContainer,
  readFileChunked,
  requireSection,
  sectionBytes,
  writeContainer,
} from './container.js';
import { MAX_ELEMENTS_OFFSET, checkHnswGraph, hnswGraphVectors } from './hnsw-graph.js';
import { loadHnswlib, type Hnswlib } from './hnswlib-loader.js';
import type { Metric, SearchOptions, SearchResult, VectorIndex } from './types.js';
import { scanRows } from './scan-rows.js';
import { tuneHnsw } from './tune.js';
import type { HnswTuning, TuneOptions } from './tune.js';
import { parseTuning } from './tuning-header.js';
import { MEASURED_AUTO_MIN, measureIpSpaces } from './ip-space.js';
import type { IpSpaceMeasurement } from './ip-space.js';
import { checkTruncateDim, dims, fitToIndex } from '../util/truncate.js';
import {
  METRICS,
  SEARCH_OPTION_KEYS,
  checkFilter,
  checkNotInFilter,
  filterWithin,
  checkIds,
  checkK,
  checkMatrix,
  checkMetric,
  checkPositiveInt,
  guardFilter,
} from './validate.js';
import type { FilterState } from './validate.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { HNSW_DEFAULTS, defaultEfSearch } from './hnsw-defaults.js';

/** Options of {@link HnswIndex}; defaults in {@link HNSW_DEFAULTS}. */
export interface HnswIndexOptions {
  /** Vector dimension. */
  dim: number;
  /** Similarity; default `ip`. Read the class notes before using `ip` on unnormalised vectors. */
  metric?: Metric;
  /** Graph out-degree (links per node per layer); default {@link HNSW_DEFAULTS}.M. */
  M?: number;
  /** Beam width while building; default {@link HNSW_DEFAULTS}.efConstruction. */
  efConstruction?: number;
  /**
   * Beam width while searching (raised to `k` when smaller). Default: none, and then every search without
   * an `ef` uses {@link defaultEfSearch} of the index's current size and `M` (a beam measured to keep
   * recall@10 >= 0.98 on random 384-d vectors of that many), so the beam grows with the corpus.
   */
  efSearch?: number;
  /** Initial capacity; the index doubles past it on demand. Default 1024. */
  capacity?: number;
  /** Seed of the level generator, for reproducible graphs; default 100. */
  seed?: number;
  /**
   * Matryoshka truncation: index only the first `truncateDim` of `dim` coordinates (vectors and queries
   * are cut on the way in; re-normalised under `cosine`). A smaller graph and faster search, at the recall
   * the model's Matryoshka training kept there. Default: no truncation.
   */
  truncateDim?: number;
  /**
   * With `metric: 'ip'`, which graph to build: `true` searches an equivalent L2 problem (the MIPS-to-L2
   * reduction, see the class notes), `false` hnswlib's own `ip` space, `'auto'` (default) picks from the
   * first batch added: with at least 1,000 vectors it builds both graphs on a sample and keeps the one
   * with the higher recall@10 ({@link measureIpSpaces}; the result is in `spaceMeasurement`), with fewer it
   * reads their norm spread ({@link chooseMipsTransform}). Each loses recall on some data (measured in
   * docs/index-tuning.md); `evaluate-model` and `index build` warn when they measure it.
   */
  mipsTransform?: boolean | 'auto';
}

export { HNSW_DEFAULTS, defaultEfSearch } from './hnsw-defaults.js';

/**
 * Row-norm spread (95th over 5th percentile) below which `'auto'` picks the MIPS-to-L2 reduction.
 * Measured (docs/index-tuning.md, benchmarks/hnsw-ip-space.ts): the reduction collapses when norms vary
 * widely (uniform(0.2, 5): recall@10 0.36 at ef 64, 0.69 at ef 1024, where hnswlib's `ip` space gives 0.99
 * and 1.00), and hnswlib's `ip` space plateaus when norms are nearly equal around a shared direction
 * (randomly initialised BERT: 0.97 however large ef, where the reduction reaches 1.00).
 */
export const MIPS_NORM_SPREAD = 2;

/**
 * The graph space `'auto'` chooses for `ip` on `vectors`: the reduction (true) when the 95th/5th
 * percentile ratio of their norms is below {@link MIPS_NORM_SPREAD}, hnswlib's `ip` space (false) otherwise.
 *
 * @example
 * ```ts
 * chooseMipsTransform(unitVectors); // true: equal norms
 * ```
 */
export function chooseMipsTransform(vectors: Matrix): boolean {
  const { rows, cols, data } = vectors;
  if (rows === 0) return false;
  const norms = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sq = 0;
    for (let j = r * cols; j < (r + 1) * cols; j++) sq += data[j] * data[j];
    norms[r] = Math.sqrt(sq);
  }
  norms.sort();
  const low = norms[Math.floor(0.05 * (rows - 1))];
  const high = norms[Math.ceil(0.95 * (rows - 1))];
  return low > 0 && high / low < MIPS_NORM_SPREAD;
}

/** hnswlib's names for our metrics: `l2` is squared distance, `ip` is `1 - dot`, `cosine` normalises. */
const SPACE: Record<Metric, 'l2' | 'ip' | 'cosine'> = { ip: 'ip', cosine: 'cosine', l2: 'l2' };

/** A fresh temp file for hnswlib (it reads and writes only paths); litter of killed processes goes first. */
async function tempPath(): Promise<string> {
  await removeStaleTemps(os.tmpdir(), /^dr-hnsw-(?<pid>\d+)-[0-9a-f]{12}\.bin$/);
  return path.join(os.tmpdir(), `dr-hnsw-${process.pid}-${randomBytes(6).toString('hex')}.bin`);
}

const HNSWINDEXOPTIONS_KEYS = optionKeys<HnswIndexOptions>({
  dim: true,
  metric: true,
  M: true,
  efConstruction: true,
  efSearch: true,
  capacity: true,
  seed: true,
  truncateDim: true,
  mipsTransform: true,
});

/**
 * Approximate nearest-neighbour search with HNSW (hnswlib through `hnswlib-node`).
 *
 * Trade-offs (see docs/index-tuning.md for measurements):
 * - `M` (links per node): more links = better recall at a given `ef`, more memory
 *   (about `M * 2 * 4` bytes per vector per layer-0 node) and slower builds. 12–48 is the useful range;
 *   higher-dimensional, harder data wants higher `M`.
 * - `efConstruction` (build beam): a better graph for a slower build; it stops paying off past ~200–400.
 *   It cannot be changed after the build.
 * - `efSearch` / `search(..., { ef })` (query beam): the knob to turn at query time. Recall rises and
 *   speed falls roughly linearly in `ef`; it is always at least `k`. Unless given, it follows the corpus
 *   size and `M` ({@link defaultEfSearch}: at M 48, 84 at 1k random 384-d vectors, 1,920 at 100k). If an
 *   approximate index costs you nDCG, first raise `ef` and watch {@link measureRecall} against an
 *   {@link ExactIndex}.
 * - Metric `ip` (maximum inner product) has two graph spaces, and each fails on some data (measured in
 *   docs/index-tuning.md). hnswlib's raw `ip` space builds its graph on `1 - dot`, which is not a
 *   distance: on vectors of nearly equal norm around a shared direction (a randomly initialised BERT)
 *   recall plateaus near 0.97 however high `ef` goes. The standard reduction of inner-product search to
 *   Euclidean search (Bachrach et al., 2014) has no plateau there, but on vectors of widely varied norms
 *   its graph is hard to navigate (0.36 at ef 64). No norm statistic predicts which (untrained-model SciFact
 *   embeddings of near-equal norms: the reduction 0.74 at ef 40, hnswlib's `ip` 0.97), so
 *   `mipsTransform: 'auto'` (the default) measures both graphs on a sample of the first batch
 *   ({@link measureIpSpaces}; batches under 1,000 vectors: the norm spread, {@link chooseMipsTransform}). The reduction: each stored vector x gets one extra coordinate
 *   sqrt(Φ² − |x|²), where Φ is the largest norm seen, and each query a 0, so that the L2 nearest
 *   neighbours are exactly the largest inner products; scores are then recomputed exactly, from a
 *   float32 copy of the vectors the index keeps for that (`size * dim * 4` bytes beside the graph). Adding a
 *   vector longer than Φ rebuilds the graph (slow): add the bulk of the corpus first. Using `cosine` for
 *   a model trained with dot product silently changes the ranking: use the model's own similarity.
 *
 * @example
 * ```ts
 * import { HnswIndex } from 'dense-retrieval';
 * const index = new HnswIndex({ dim: 384, metric: 'cosine' });
 * await index.add(corpusEmbeddings, docIds);
 * const top10 = await index.search(queryEmbeddings, 10, { ef: 256 });
 * await index.save('corpus.hnsw');
 * const again = await HnswIndex.load('corpus.hnsw');
 * ```
 */
export class HnswIndex implements VectorIndex {
  /** Set while this index's search filter runs: the index refuses changes from inside it. */
  private readonly filterState: FilterState = { inFilter: false };
  /** Dimension indexed (`truncateDim` when set). */
  readonly dim: number;
  /** Dimension of the vectors `add`/`search` take; wider than `dim` under Matryoshka truncation. */
  readonly inputDim: number;
  readonly truncateDim: number | undefined;
  readonly metric: Metric;
  readonly M: number;
  readonly efConstruction: number;
  /** The `efSearch` given (option, `tune`, a loaded file), or undefined for the size-dependent default. */
  private explicitEf: number | undefined;
  readonly seed: number;
  /**
   * Query beam width used when `search` gets no `ef`: the `efSearch` given (constructor, `tune`, the
   * saved file) or else {@link defaultEfSearch} of the current size and `M`, recomputed as the index
   * grows or shrinks. Assign a number to fix it, `undefined` to return to the size-dependent default.
   *
   * @throws {ArgumentError} on assigning anything but a positive integer or undefined.
   */
  get efSearch(): number {
    return this.explicitEf ?? defaultEfSearch(this.size, 10, this.M);
  }
  set efSearch(ef: number | undefined) {
    this.explicitEf = ef === undefined ? undefined : checkPositiveInt('efSearch', ef);
  }
  /** Whether {@link efSearch} follows the corpus size ({@link defaultEfSearch}) rather than a given value. */
  get efSearchIsDefault(): boolean {
    return this.explicitEf === undefined;
  }
  /** Whether `ip` search runs through the Euclidean reduction (see the class notes). */
  get mipsTransform(): boolean {
    return this.transform;
  }
  private transform: boolean;
  /** `mipsTransform: 'auto'` and nothing added yet: the first `add` decides. */
  private autoSpace: boolean;
  /**
   * Under `mipsTransform: 'auto'`, what the first add measured to choose the graph space (a first batch
   * of at least {@link MEASURED_AUTO_MIN} vectors; smaller ones are decided by {@link chooseMipsTransform}).
   * Not saved with the index.
   */
  spaceMeasurement: IpSpaceMeasurement | undefined;
  private hnsw: InstanceType<Hnswlib['HierarchicalNSW']>;
  /** Φ: the norm every stored vector is lifted to under the reduction. */
  private maxNorm = 0;
  /**
   * Under the reduction only: the stored vectors, row-major, `capacity` rows. The exact rescoring reads
   * them; hnswlib-node's only accessor, `getPoint`, builds a JS array per call (~36 µs for 384-d), which
   * cost more than the graph search itself at small `ef`. Costs `size * dim * 4` bytes beside the graph.
   */
  private vectors: Float32Array = new Float32Array(0);
  /**
   * One plain array reused for every point handed to hnswlib: its addon accepts only an `Array` (it checks
   * `IsArray`, so no Float32Array) and copies it, so a fresh `Array.from` per query is needless garbage.
   */
  private point: number[] = [];
  private ids: string[] = [];
  private idToRow = new Map<string, number>();
  /** What the last {@link HnswIndex.tune} measured (saved with the index), if it was tuned. */
  tuning: HnswTuning | undefined;
  /** Rows removed (hnswlib `markDelete`); `add`/`upsert` reuse them before growing the graph. */
  private deleted = new Set<number>();

  constructor(opts: HnswIndexOptions) {
    checkOptionKeys('HnswIndex', opts, HNSWINDEXOPTIONS_KEYS);
    this.inputDim = checkPositiveInt('dim', opts.dim);
    this.truncateDim =
      opts.truncateDim === undefined ? undefined : checkTruncateDim(opts.truncateDim, this.inputDim);
    this.dim = this.truncateDim ?? this.inputDim;
    this.metric = checkMetric(opts.metric ?? 'ip');
    this.M = checkPositiveInt('M', opts.M ?? HNSW_DEFAULTS.M);
    this.efConstruction = checkPositiveInt(
      'efConstruction',
      opts.efConstruction ?? HNSW_DEFAULTS.efConstruction,
    );
    this.explicitEf = opts.efSearch === undefined ? undefined : checkPositiveInt('efSearch', opts.efSearch);
    const capacity = checkPositiveInt('capacity', opts.capacity ?? 1024);
    this.seed = opts.seed ?? 100;
    if (!Number.isInteger(this.seed) || this.seed < 0) {
      throw new ArgumentError('seed', `must be a non-negative integer, got ${this.seed}`);
    }
    const mode = opts.mipsTransform ?? 'auto';
    if (mode !== true && mode !== false && mode !== 'auto') {
      throw new ArgumentError('mipsTransform', `must be true, false or 'auto', got ${String(mode)}`);
    }
    this.transform = this.metric === 'ip' && mode === true;
    this.autoSpace = this.metric === 'ip' && mode === 'auto';
    this.hnsw = this.createGraph(capacity);
  }

  /** A native graph object holding no index yet (hnswlib-node is loaded on the first one). */
  private emptyGraph(): InstanceType<Hnswlib['HierarchicalNSW']> {
    const hnswlib = loadHnswlib();
    return this.mipsTransform
      ? new hnswlib.HierarchicalNSW('l2', this.dim + 1)
      : new hnswlib.HierarchicalNSW(SPACE[this.metric], this.dim);
  }

  private createGraph(capacity: number): InstanceType<Hnswlib['HierarchicalNSW']> {
    const graph = this.emptyGraph();
    graph.initIndex({
      maxElements: capacity,
      m: this.M,
      efConstruction: this.efConstruction,
      randomSeed: this.seed,
    });
    return graph;
  }

  /**
   * Copy `data[offset .. offset + dim)` into the reused point array; under the reduction the extra
   * coordinate is `last` (sqrt(Φ² − |v|²) for a stored vector, 0 for a query).
   */
  private fillPoint(data: Float32Array, offset: number, last = 0): number[] {
    const d = this.dim;
    const n = d + (this.mipsTransform ? 1 : 0);
    if (this.point.length !== n) this.point = new Array<number>(n).fill(0);
    const point = this.point;
    for (let j = 0; j < d; j++) point[j] = data[offset + j];
    if (this.mipsTransform) point[d] = last;
    return point;
  }

  /** The point hnswlib stores for row `offset / dim` of `data`: under the reduction, lifted to norm Φ. */
  private lift(data: Float32Array, offset: number): number[] {
    let extra = 0;
    if (this.mipsTransform) {
      let sq = 0;
      for (let j = offset; j < offset + this.dim; j++) sq += data[j] * data[j];
      extra = Math.sqrt(Math.max(0, this.maxNorm * this.maxNorm - sq));
    }
    return this.fillPoint(data, offset, extra);
  }

  /** Grow the stored copy of the vectors (reduction only) to hold at least `rows` rows. */
  private reserveVectors(rows: number): void {
    if (!this.mipsTransform || rows * this.dim <= this.vectors.length) return;
    const grown = new Float32Array(Math.max(rows, 2 * (this.vectors.length / this.dim)) * this.dim);
    grown.set(this.vectors.subarray(0, this.rows * this.dim));
    this.vectors = grown;
  }

  /** Re-insert every stored vector into a new graph lifted to a larger Φ. */
  private rebuild(maxNorm: number, capacity: number): void {
    this.maxNorm = maxNorm;
    this.hnsw = this.createGraph(capacity);
    for (let row = 0; row < this.rows; row++) {
      this.hnsw.addPoint(this.lift(this.vectors, row * this.dim), row);
      // Removed rows keep their label (and stay removed), so the row numbering survives the rebuild.
      if (this.deleted.has(row)) this.hnsw.markDelete(row);
    }
  }

  /** Live (not removed) vectors. */
  get size(): number {
    return this.ids.length - this.deleted.size;
  }

  /** Rows of the graph, removed ones included (hnswlib labels are row numbers). */
  private get rows(): number {
    return this.ids.length;
  }

  /** Current capacity (grows by doubling when exceeded). */
  get capacity(): number {
    return this.hnsw.getMaxElements();
  }

  /** Ids of the live documents in row order (removed rows left out; a reused row holds its new id). */
  get documentIds(): readonly string[] {
    return this.deleted.size === 0 ? this.ids : this.ids.filter((_, row) => !this.deleted.has(row));
  }

  async add(vectors: Matrix, ids: string[]): Promise<void> {
    checkNotInFilter(this.filterState, 'add');
    vectors = fitToIndex(vectors, this.inputDim, this.dim);
    checkMatrix('vectors', vectors, this.dim);
    checkIds(ids, vectors.rows, this.idToRow);
    this.place(vectors, ids);
  }

  /**
   * Add new ids and replace the vectors of ids already present (hnswlib updates the point and repairs its
   * links in place). New ids take removed rows first (hnswlib's replace-deleted idea), so a stream of
   * removals and insertions does not grow the graph.
   *
   * @throws {ArgumentError} on a bad matrix or ids repeated within the batch.
   */
  async upsert(vectors: Matrix, ids: string[]): Promise<void> {
    checkNotInFilter(this.filterState, 'upsert');
    vectors = fitToIndex(vectors, this.inputDim, this.dim);
    checkMatrix('vectors', vectors, this.dim);
    checkIds(ids, vectors.rows, new Map());
    this.place(vectors, ids);
  }

  /**
   * Remove documents by id (hnswlib `markDelete`; unknown ids are ignored). A removed document never
   * comes back from `search`, also after save/load; its row is reused by the next new id. Resolves to the
   * number removed.
   */
  async remove(ids: string[]): Promise<number> {
    checkNotInFilter(this.filterState, 'remove');
    let removed = 0;
    for (const id of ids) {
      const row = this.idToRow.get(id);
      if (row === undefined) continue;
      this.hnsw.markDelete(row);
      this.deleted.add(row);
      this.idToRow.delete(id);
      removed++;
    }
    return removed;
  }

  /** Store each vector at its id's row: the live row of a known id, else a removed row, else a new one. */
  private place(vectors: Matrix, ids: string[]): void {
    if (this.autoSpace && vectors.rows > 0) {
      this.autoSpace = false;
      let transform: boolean;
      if (vectors.rows >= MEASURED_AUTO_MIN && this.rows === 0) {
        const m = measureIpSpaces(vectors, {
          M: this.M,
          efConstruction: this.efConstruction,
          seed: this.seed,
        });
        this.spaceMeasurement = m;
        // A clear difference decides; within noise (half a point), the norm rule.
        transform = Math.abs(m.reduction - m.ip) > 0.005 ? m.reduction > m.ip : chooseMipsTransform(vectors);
      } else transform = chooseMipsTransform(vectors);
      if (transform !== this.transform && this.rows === 0) {
        this.transform = transform;
        this.hnsw = this.createGraph(this.hnsw.getMaxElements());
      }
    }
    const free = [...this.deleted].sort((a, b) => b - a);
    let appended = 0;
    const target = ids.map((id) => {
      const row = this.idToRow.get(id);
      if (row !== undefined) return row;
      const reused = free.pop();
      return reused ?? this.rows + appended++;
    });
    const need = this.rows + appended;
    const capacity = Math.max(need, need > this.hnsw.getMaxElements() ? 2 * this.hnsw.getMaxElements() : 0);
    const d = this.dim;
    if (this.mipsTransform) {
      let batchMax = 0;
      for (let r = 0; r < vectors.rows; r++) {
        let sq = 0;
        for (let j = r * d; j < (r + 1) * d; j++) sq += vectors.data[j] * vectors.data[j];
        batchMax = Math.max(batchMax, Math.sqrt(sq));
      }
      if (batchMax > this.maxNorm) {
        if (this.rows === 0) this.maxNorm = batchMax;
        else this.rebuild(batchMax, Math.max(capacity, this.hnsw.getMaxElements()));
      }
    }
    if (need > this.hnsw.getMaxElements()) this.hnsw.resizeIndex(capacity);
    this.reserveVectors(need);
    for (let r = 0; r < vectors.rows; r++) {
      const row = target[r];
      // An existing label (live or removed) is updated in place and un-deleted by hnswlib.
      this.hnsw.addPoint(this.lift(vectors.data, r * d), row);
      if (this.mipsTransform) this.vectors.set(vectors.data.subarray(r * d, (r + 1) * d), row * d);
      if (row === this.rows) this.ids.push(ids[r]);
      else this.ids[row] = ids[r];
      this.deleted.delete(row);
      this.idToRow.set(ids[r], row);
    }
  }

  async search(queries: Matrix, k: number, options: SearchOptions = {}): Promise<SearchResult> {
    checkOptionKeys('search', options, SEARCH_OPTION_KEYS);
    queries = fitToIndex(queries, this.inputDim, this.dim);
    checkMatrix('queries', queries, this.dim);
    checkK(k, this.size);
    const ef = checkPositiveInt('ef', options.ef ?? this.explicitEf ?? defaultEfSearch(this.size, k, this.M));
    this.hnsw.setEf(Math.max(ef, k));
    const d = this.dim;
    const out: SearchResult = {
      ids: new Array<string[]>(queries.rows),
      scores: new Array<Float32Array>(queries.rows),
    };
    // Per-query scratch, allocated once: float64 scores (sorting compares them before the float32 rounding
    // of the output, as the exact index does) and the order of the hits.
    const scores = new Float64Array(k);
    const order = Array.from({ length: k }, (_, j) => j);
    const userFilter = filterWithin(checkFilter(options.filter), this.filterState);
    const guard = userFilter === undefined ? undefined : guardFilter(userFilter, (label) => this.ids[label]);
    const filter = guard?.passes;
    for (let i = 0; i < queries.rows; i++) {
      const offset = i * d;
      let { distances, neighbors } = this.hnsw.searchKnn(this.fillPoint(queries.data, offset), k, filter);
      guard?.rethrow();
      // A selective filter (or many removals) can leave the beam with fewer than k hits although k
      // documents pass: then score the passing documents exhaustively, so k results come back.
      if (neighbors.length < k) {
        ({ distances, neighbors } = scanRows(
          queries.data.subarray(offset, offset + d),
          this.metric,
          k,
          this.rows,
          (row) => !this.deleted.has(row) && (filter === undefined || filter(row)),
          (row) =>
            this.mipsTransform ? this.vectors.subarray(row * d, (row + 1) * d) : this.hnsw.getPoint(row),
        ));
        guard?.rethrow();
      }
      const n = neighbors.length;
      for (let j = 0; j < n; j++) {
        scores[j] = this.mipsTransform
          ? this.exactDot(queries.data, offset, neighbors[j])
          : this.metric === 'l2'
            ? -distances[j]
            : 1 - distances[j];
      }
      // hnswlib returns the hits nearest first, so the scores are nearly always in order already: only
      // equal distances (id tie-break) and the reduction's rounding (exact rescoring) can reorder them.
      // Check in O(k) and sort only then.
      const hits = order.length === n ? order : order.slice(0, n);
      for (let j = 0; j < n; j++) hits[j] = j;
      let sorted = true;
      for (let j = 1; j < n && sorted; j++) sorted = this.rankedBefore(scores, neighbors, j - 1, j);
      if (!sorted) hits.sort((a, b) => (this.rankedBefore(scores, neighbors, a, b) ? -1 : 1));
      const rowIds = new Array<string>(n);
      const rowScores = new Float32Array(n);
      for (let j = 0; j < n; j++) {
        rowIds[j] = this.ids[neighbors[hits[j]]];
        rowScores[j] = scores[hits[j]];
      }
      out.ids[i] = rowIds;
      out.scores[i] = rowScores;
    }
    return out;
  }

  /**
   * Pick the query beam from measurement: search a sample of queries with rising `ef`, compare with
   * exact search, and set {@link efSearch} to the smallest `ef` whose recall@k meets `targetRecall`
   * (default 0.98) with 95 % confidence (its lower bound, so the target holds on new queries like the
   * sample). Without `sampleQueries`, stored documents are the queries (each one's own id is dropped from
   * both result lists), which is optimistic: prefer real or held-out queries (see `TuneOptions`). The result, with the whole recall/`ef` curve, is kept in
   * {@link tuning} and saved with the index. Cost: one exact search of the sample plus one approximate
   * search per `ef` tried; an index whose graph cannot reach the target keeps the best `ef` tried
   * (`met: false`): raise `M` (see `buildTunedHnsw`).
   *
   * @throws {ArgumentError} the index is empty (or holds one document and no `sampleQueries` are given);
   *   `targetRecall`, `k`, `sampleSize` or an `efs` value is out of range; a given `exact` differs from the
   *   index in metric, dimension (after `truncateDim`) or size, or returns an id the index does not hold.
   *
   * @example
   * ```ts
   * const t = await index.tune({ targetRecall: 0.98 });
   * console.log(t.ef, t.recall); // e.g. 96 0.985
   * ```
   */
  async tune(options: TuneOptions = {}): Promise<HnswTuning> {
    return tuneHnsw(this, options);
  }

  /** The live stored vectors (as indexed: truncated, and normalised under cosine) with their ids. */
  storedVectors(): { vectors: Matrix; ids: string[] } {
    const d = this.dim;
    const rows: number[] = [];
    for (let r = 0; r < this.rows; r++) if (!this.deleted.has(r)) rows.push(r);
    const data = new Float32Array(rows.length * d);
    rows.forEach((r, i) => {
      data.set(this.mipsTransform ? this.vectors.subarray(r * d, (r + 1) * d) : this.hnsw.getPoint(r), i * d);
    });
    return { vectors: { data, rows: rows.length, cols: d }, ids: rows.map((r) => this.ids[r]) };
  }

  /**
   * Whether hit `a` ranks before hit `b` (distinct hits): trec_eval's order, as `compareRanked` in
   * `topk.ts` (higher score first, then the greater id), on float64 scores without building pair objects.
   */
  private rankedBefore(scores: Float64Array, neighbors: number[], a: number, b: number): boolean {
    if (scores[a] !== scores[b]) return scores[a] > scores[b];
    return compareIds(this.ids[neighbors[a]], this.ids[neighbors[b]]) > 0;
  }

  /** q · x of a stored vector in float64 (the reduction's distance only orders; it loses precision). */
  private exactDot(q: Float32Array, offset: number, row: number): number {
    const x = this.vectors;
    const base = row * this.dim;
    let s = 0;
    for (let j = 0; j < this.dim; j++) s += q[offset + j] * x[base + j];
    return s;
  }

  async save(file: string): Promise<void> {
    const tmp = await tempPath();
    try {
      this.hnsw.writeIndexSync(tmp);
      const graph = await readFileChunked(tmp);
      await writeContainer(
        file,
        {
          kind: 'hnsw',
          dim: this.dim,
          inputDim: this.inputDim,
          metric: this.metric,
          size: this.rows,
          M: this.M,
          efConstruction: this.efConstruction,
          // The beam in effect now, so that readers without the size rule search with it; the marker keeps
          // the rule for readers that have it (absent: the number is the user's, as in older files).
          efSearch: this.efSearch,
          ...(this.explicitEf === undefined ? { efSearchDefault: true } : {}),
          seed: this.seed,
          mipsTransform: this.mipsTransform,
          maxNorm: this.maxNorm,
          tuning: this.tuning ?? null,
        },
        { ids: jsonSection(this.ids), graph, deleted: jsonSection([...this.deleted]) },
      );
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  /**
   * Load an index written by {@link HnswIndex.save} (graph and id mapping). Another format version,
   * another index kind, a truncated file, a checksum mismatch, a header field of the wrong type, ids that
   * are not unique strings without whitespace, and a graph whose bytes do not check out (see
   * `checkHnswGraph`: every count, label and link is verified before hnswlib's loader sees the graph) are
   * {@link InputFormatError}s naming the file. The loaded index's capacity is its size (it grows on `add`).
   */
  static async load(file: string): Promise<HnswIndex> {
    const { header, sections } = await readContainer(file, 'hnsw');
    const dim = headerField.int(header, 'dim', file, 1, 2 ** 24);
    const size = headerField.int(header, 'size', file, 0, 2 ** 32 - 1);
    const metric = headerField.choice(header, 'metric', file, METRICS);
    const M = headerField.int(header, 'M', file, 1, 2 ** 24);
    const efConstruction = headerField.int(header, 'efConstruction', file, 1, 2 ** 31);
    const efSearch = headerField.int(header, 'efSearch', file, 1, 2 ** 31);
    // Files from before the size-dependent default stored the fixed default (1536) as a number: it stays
    // the beam they search with (loading never changes an index's recall); `efSearch = undefined` adopts the rule.
    const efSearchDefault =
      header.efSearchDefault === undefined ? false : headerField.bool(header, 'efSearchDefault', file);
    const seed = headerField.int(header, 'seed', file, 0);
    const mipsTransform = headerField.bool(header, 'mipsTransform', file);
    const maxNorm = headerField.number(header, 'maxNorm', file, 0);
    if (mipsTransform && metric !== 'ip') {
      throw new InputFormatError(`corrupt index header: 'mipsTransform' is set for metric '${metric}'`, file);
    }
    // Matryoshka input width and the stored tuning: absent in files from before they existed.
    const inputDim =
      header.inputDim === undefined ? dim : headerField.int(header, 'inputDim', file, dim, 2 ** 24);
    const tuning = parseTuning(header, file);
    // Removed rows (files written before removals existed have no such section): distinct rows below size.
    const deleted = new Set<number>();
    if (sections.has('deleted')) {
      const raw = parseJsonSection(sections, 'deleted', file);
      if (!Array.isArray(raw)) {
        throw new InputFormatError("corrupt hnsw index: section 'deleted' must be a list of rows", file);
      }
      for (const r of raw as unknown[]) {
        if (typeof r !== 'number' || !Number.isInteger(r) || r < 0 || r >= size || deleted.has(r)) {
          throw new InputFormatError(
            `corrupt hnsw index: removed row ${JSON.stringify(r)} is not a distinct row below the size ${size}`,
            file,
          );
        }
        deleted.add(r);
      }
    }
    const ids = parseIdsSection(sections, 'ids', size, file, deleted);
    const graph = sectionBytes(requireSection(sections, 'graph', file), file);
    const graphDim = dim + (mipsTransform ? 1 : 0);
    // Every byte hnswlib's loader and searches will follow is checked here, before any native call: the
    // loader trusts the file, and a native object whose load failed must never be touched again.
    const norm = mipsTransform ? maxNorm : metric === 'cosine' ? 1 : undefined;
    const layout = checkHnswGraph(
      graph,
      { dim: graphDim, count: size, M, efConstruction, norm, deleted },
      file,
    );
    // The capacity is set to the element count: the stored one only sizes an allocation, and a corrupt or
    // huge value there would allocate before anything could be checked. `add` grows it on demand.
    new DataView(graph.buffer, graph.byteOffset).setBigUint64(
      MAX_ELEMENTS_OFFSET,
      BigInt(Math.max(size, 1)),
      true,
    );
    const index = new HnswIndex({
      ...dims(dim, inputDim),
      metric,
      M,
      efConstruction,
      ...(efSearchDefault ? {} : { efSearch }),
      seed,
      mipsTransform,
      capacity: 1,
    });
    index.maxNorm = maxNorm;
    if (tuning !== undefined) index.tuning = tuning;
    const tmp = await tempPath();
    try {
      await fs.writeFile(tmp, graph);
      // Loaded into an object that never held an index: hnswlib-node frees the old index before loading,
      // so a failed load into an initialised object would leave a dangling pointer for its finalizer to
      // free again (the "typed error, then a segfault at exit"). An empty object stays empty on failure.
      const loaded = index.emptyGraph();
      try {
        loaded.readIndexSync(tmp);
      } catch (error) {
        // Not expected after checkHnswGraph; the failed native object is dropped, never used again.
        throw new InputFormatError(`corrupt hnsw graph: ${(error as Error).message}`, file);
      }
      index.hnsw = loaded;
    } finally {
      await fs.rm(tmp, { force: true });
    }
    index.ids = ids;
    index.deleted = deleted;
    index.idToRow = new Map();
    ids.forEach((id, row) => {
      if (!deleted.has(row)) index.idToRow.set(id, row);
    });
    if (index.mipsTransform) index.vectors = hnswGraphVectors(graph, layout, size, dim);
    return index;
  }
}
