import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import hnswlib from 'hnswlib-node';
import { ArgumentError, InputFormatError } from '../errors.js';
import type { Matrix } from '../types.js';
import { readContainer, writeContainer, jsonSection, parseJsonSection } from './container.js';
import { compareRanked } from './topk.js';
import type { Metric, SearchOptions, SearchResult, VectorIndex } from './types.js';
import { checkIds, checkK, checkMatrix, checkMetric, checkPositiveInt } from './validate.js';

/** Options of {@link HnswIndex}. Defaults are chosen for recall@10 >= 0.98 on 384-d embeddings. */
export interface HnswIndexOptions {
  /** Vector dimension. */
  dim: number;
  /** Similarity; default `ip`. Read the class notes before using `ip` on unnormalised vectors. */
  metric?: Metric;
  /** Graph out-degree (links per node per layer); default 16. */
  M?: number;
  /** Beam width while building; default 200. */
  efConstruction?: number;
  /** Beam width while searching (raised to `k` when smaller); default 128. */
  efSearch?: number;
  /** Initial capacity; the index doubles past it on demand. Default 1024. */
  capacity?: number;
  /** Seed of the level generator, for reproducible graphs; default 100. */
  seed?: number;
}

/** hnswlib's names for our metrics: `l2` is squared distance, `ip` is `1 - dot`, `cosine` normalises. */
const SPACE: Record<Metric, 'l2' | 'ip' | 'cosine'> = { ip: 'ip', cosine: 'cosine', l2: 'l2' };

function tempPath(): string {
  return path.join(os.tmpdir(), `dr-hnsw-${process.pid}-${randomBytes(6).toString('hex')}.bin`);
}

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
 *   speed falls roughly linearly in `ef`; it is always at least `k`. If an approximate index costs you
 *   nDCG, first raise `ef` and watch {@link measureRecall} against an {@link ExactIndex}.
 * - Metric: hnswlib's `ip` space builds its graph on `1 - dot`, which is not a distance. On normalised
 *   vectors that is fine (it equals cosine). On unnormalised DPR-style vectors large-norm points become
 *   hubs and recall at a given `ef` is lower (measured in docs/index-tuning.md); the remedy is to
 *   normalise (use `cosine`, if the model was trained for it) or to raise `ef`/`M` and check recall.
 *   Using `cosine` for a model trained with dot product silently changes the ranking: do not mix them.
 *
 * @example
 * ```ts
 * import { HnswIndex } from 'dense-retrieval';
 * const index = new HnswIndex({ dim: 384, metric: 'cosine' });
 * index.add(corpusEmbeddings, docIds);
 * const top10 = index.search(queryEmbeddings, 10, { ef: 256 });
 * await index.save('corpus.hnsw');
 * const again = await HnswIndex.load('corpus.hnsw');
 * ```
 */
export class HnswIndex implements VectorIndex {
  readonly dim: number;
  readonly metric: Metric;
  readonly M: number;
  readonly efConstruction: number;
  /** Default query beam width, used when `search` gets no `ef`. */
  efSearch: number;
  readonly seed: number;
  private readonly hnsw: hnswlib.HierarchicalNSW;
  private ids: string[] = [];
  private idToRow = new Map<string, number>();

  constructor(opts: HnswIndexOptions) {
    this.dim = checkPositiveInt('dim', opts.dim);
    this.metric = checkMetric(opts.metric ?? 'ip');
    this.M = checkPositiveInt('M', opts.M ?? 16);
    this.efConstruction = checkPositiveInt('efConstruction', opts.efConstruction ?? 200);
    this.efSearch = checkPositiveInt('efSearch', opts.efSearch ?? 128);
    const capacity = checkPositiveInt('capacity', opts.capacity ?? 1024);
    this.seed = opts.seed ?? 100;
    if (!Number.isInteger(this.seed) || this.seed < 0) {
      throw new ArgumentError('seed', `must be a non-negative integer, got ${this.seed}`);
    }
    this.hnsw = new hnswlib.HierarchicalNSW(SPACE[this.metric], this.dim);
    this.hnsw.initIndex({
      maxElements: capacity,
      m: this.M,
      efConstruction: this.efConstruction,
      randomSeed: this.seed,
    });
  }

  get size(): number {
    return this.ids.length;
  }

  /** Current capacity (grows by doubling when exceeded). */
  get capacity(): number {
    return this.hnsw.getMaxElements();
  }

  /** Document ids in insertion order. */
  get documentIds(): readonly string[] {
    return this.ids;
  }

  add(vectors: Matrix, ids: string[]): void {
    checkMatrix('vectors', vectors, this.dim);
    checkIds(ids, vectors.rows, this.idToRow);
    const need = this.size + vectors.rows;
    if (need > this.hnsw.getMaxElements()) {
      this.hnsw.resizeIndex(Math.max(need, 2 * this.hnsw.getMaxElements()));
    }
    const d = this.dim;
    for (let r = 0; r < vectors.rows; r++) {
      const row = this.size;
      // hnswlib-node only accepts plain arrays.
      this.hnsw.addPoint(Array.from(vectors.data.subarray(r * d, (r + 1) * d)), row);
      this.ids.push(ids[r]);
      this.idToRow.set(ids[r], row);
    }
  }

  search(queries: Matrix, k: number, options: SearchOptions = {}): SearchResult {
    checkMatrix('queries', queries, this.dim);
    checkK(k, this.size);
    const ef = checkPositiveInt('ef', options.ef ?? this.efSearch);
    this.hnsw.setEf(Math.max(ef, k));
    const d = this.dim;
    const out: SearchResult = { ids: [], scores: [] };
    for (let i = 0; i < queries.rows; i++) {
      const { distances, neighbors } = this.hnsw.searchKnn(
        Array.from(queries.data.subarray(i * d, (i + 1) * d)),
        k,
      );
      const ranked = neighbors.map((row, j) => ({
        id: this.ids[row],
        score: this.metric === 'l2' ? -distances[j] : 1 - distances[j],
      }));
      ranked.sort(compareRanked);
      out.ids.push(ranked.map((r) => r.id));
      out.scores.push(Float32Array.from(ranked.map((r) => r.score)));
    }
    return out;
  }

  async save(file: string): Promise<void> {
    const tmp = tempPath();
    try {
      this.hnsw.writeIndexSync(tmp);
      const graph = await fs.readFile(tmp);
      await writeContainer(
        file,
        {
          kind: 'hnsw',
          dim: this.dim,
          metric: this.metric,
          size: this.size,
          M: this.M,
          efConstruction: this.efConstruction,
          efSearch: this.efSearch,
          seed: this.seed,
        },
        { ids: jsonSection(this.ids), graph },
      );
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  /**
   * Load an index written by {@link HnswIndex.save} (graph and id mapping); another format version,
   * another index kind or a truncated file is an {@link InputFormatError}.
   */
  static async load(file: string): Promise<HnswIndex> {
    const { header, sections } = await readContainer(file, 'hnsw');
    const ids = parseJsonSection<string[]>(sections.get('ids'), 'ids', file);
    const graph = sections.get('graph');
    if (!Array.isArray(ids) || ids.length !== header.size || graph === undefined) {
      throw new InputFormatError('corrupt hnsw index: ids do not match the header', file);
    }
    const index = new HnswIndex({
      dim: header.dim as number,
      metric: header.metric as Metric,
      M: header.M as number,
      efConstruction: header.efConstruction as number,
      efSearch: header.efSearch as number,
      seed: header.seed as number,
      capacity: 1,
    });
    const tmp = tempPath();
    try {
      await fs.writeFile(tmp, graph);
      try {
        index.hnsw.readIndexSync(tmp);
      } catch (error) {
        throw new InputFormatError(`corrupt hnsw graph: ${(error as Error).message}`, file);
      }
    } finally {
      await fs.rm(tmp, { force: true });
    }
    if (index.hnsw.getCurrentCount() !== ids.length || index.hnsw.getNumDimensions() !== index.dim) {
      throw new InputFormatError('corrupt hnsw index: graph does not match the id mapping', file);
    }
    index.ids = ids;
    index.idToRow = new Map(ids.map((id, row) => [id, row]));
    return index;
  }
}
