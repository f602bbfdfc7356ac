import { InputFormatError } from '../errors.js';
import type { Matrix } from '../types.js';
import {
  headerField,
  jsonSection,
  parseIdsSection,
  requireSection,
  sectionBytes,
  sectionFloat32,
} from './container.js';
import type { ContainerHeader, Section } from './container.js';
import { TopK } from './topk.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { checkTruncateDim, fitToIndex } from '../util/truncate.js';
import type { Metric, SearchOptions, SearchResult, VectorIndex } from './types.js';
import {
  METRICS,
  SEARCH_OPTION_KEYS,
  allowedRows,
  checkFilter,
  checkNotInFilter,
  filterWithin,
  checkIds,
  checkK,
  checkMatrix,
  checkMetric,
  checkPositiveInt,
  normalizeRows,
} from './validate.js';
import type { FilterState } from './validate.js';

/** Options shared by the quantized indexes ({@link Int8Index}, {@link BinaryIndex}). */
export interface QuantizedIndexOptions {
  /** Dimension of the vectors given to `add` and `search`. */
  dim: number;
  /** Similarity of the rescoring (and of the int8 code scan); default `ip`. */
  metric?: Metric;
  /**
   * Candidates per result: `search` scans the codes for `k * rescoreMultiplier` candidates and rescores
   * them with the float query (sentence-transformers' `rescore_multiplier`). Higher = recall closer to
   * float search and slower rescoring; 1 only reorders the code top-k. Default 4.
   */
  rescoreMultiplier?: number;
  /**
   * Also keep the float32 document vectors for rescoring (faiss `IndexRefineFlat`-style): rescored
   * results are then exact float scores, at `dim * 4` more bytes per vector (5x the int8 memory, 33x the
   * binary). Without them, rescoring uses the float query against the codes (ST's `rescore`). Default false.
   */
  keepVectors?: boolean;
  /**
   * Matryoshka truncation: keep only the first `truncateDim` coordinates of every vector added and every
   * query (re-normalised under `cosine`); vectors already `truncateDim` wide are taken as they are. Fewer dimensions = smaller codes and faster scans, at the recall
   * the model's Matryoshka training kept there. Default: no truncation.
   */
  truncateDim?: number;
}

/**
 * Bounded selection of the best `k` (score, row) pairs over the code scan; on equal code scores the
 * earlier row wins, so the candidate set is deterministic and cheap (no id comparison per tie, which
 * Hamming distances have by the thousand).
 */
export class RowHeap {
  readonly scores: Float64Array;
  readonly rows: Int32Array;
  count = 0;

  constructor(readonly k: number) {
    this.scores = new Float64Array(k);
    this.rows = new Int32Array(k);
  }

  /** The score a row must beat to enter (−Infinity until full). */
  get threshold(): number {
    return this.count < this.k ? -Infinity : this.scores[0];
  }

  push(score: number, row: number): void {
    const { scores, rows, k } = this;
    if (this.count < k) {
      let i = this.count++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!(score < scores[p] || (score === scores[p] && row > rows[p]))) break;
        scores[i] = scores[p];
        rows[i] = rows[p];
        i = p;
      }
      scores[i] = score;
      rows[i] = row;
      return;
    }
    if (k === 0 || score < scores[0] || (score === scores[0] && row > rows[0])) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= k) break;
      const r = l + 1;
      let c = l;
      if (r < k && (scores[r] < scores[l] || (scores[r] === scores[l] && rows[r] > rows[l]))) c = r;
      if (!(scores[c] < score || (scores[c] === score && rows[c] > row))) break;
      scores[i] = scores[c];
      rows[i] = rows[c];
      i = c;
    }
    scores[i] = score;
    rows[i] = row;
  }
}

/**
 * Shared machinery of the quantized indexes: id bookkeeping, compaction on `remove`, in-place `upsert`,
 * filters, the rescoring stage and the saved sections. Subclasses provide the codes and the scans.
 */
export abstract class QuantizedIndex implements VectorIndex {
  /** Set while this index's search filter runs: the index refuses changes from inside it. */
  private readonly filterState: FilterState = { inFilter: false };
  /** Dimension indexed: `truncateDim` when set, else the input dimension. */
  readonly dim: number;
  readonly metric: Metric;
  readonly rescoreMultiplier: number;
  readonly keepVectors: boolean;
  /** Dimension of the vectors `add`/`search` take (the model's); `dim` is what is indexed. */
  readonly inputDim: number;
  readonly truncateDim: number | undefined;
  /** Bytes of one stored code row. */
  protected abstract readonly codeBytes: number;
  protected codes: Uint8Array = new Uint8Array(0);
  protected vectors: Float32Array = new Float32Array(0);
  protected ids: string[] = [];
  protected idToRow = new Map<string, number>();

  /** `name` and `keys`: the subclass's name and option keys, for {@link checkOptionKeys}. */
  constructor(opts: QuantizedIndexOptions, name: string, keys: readonly string[]) {
    checkOptionKeys(name, opts, keys);
    this.inputDim = checkPositiveInt('dim', opts.dim);
    this.metric = checkMetric(opts.metric ?? 'ip');
    this.rescoreMultiplier = checkPositiveInt('rescoreMultiplier', opts.rescoreMultiplier ?? 4);
    this.keepVectors = opts.keepVectors === true;
    this.truncateDim =
      opts.truncateDim === undefined ? undefined : checkTruncateDim(opts.truncateDim, this.inputDim);
    this.dim = this.truncateDim ?? this.inputDim;
  }

  get size(): number {
    return this.ids.length;
  }

  /** Document ids in row order (removals compact the rows, keeping the order of the rest). */
  get documentIds(): readonly string[] {
    return this.ids;
  }

  /** Bytes held per stored vector: the code row, plus the float32 vector when `keepVectors`. */
  get bytesPerVector(): number {
    return this.codeBytes + (this.keepVectors ? this.dim * 4 : 0);
  }

  /**
   * Bytes allocated for codes and kept vectors, spare capacity included (adding in batches grows the
   * buffers geometrically, by up to 2x; one `add` of the whole corpus allocates exactly).
   */
  get allocatedBytes(): number {
    return this.codes.byteLength + this.vectors.byteLength;
  }

  /** Bytes held by the stored codes and vectors (ids and their map not counted). */
  get memoryBytes(): number {
    return this.size * this.bytesPerVector;
  }

  /** Encode `rows` prepared (truncated, normalised) vectors into `out`, `codeBytes` per row. */
  protected abstract encode(data: Float32Array, rows: number, out: Uint8Array): void;

  /** Called with the first batch ever added, before it is encoded (int8 self-calibration). */
  protected prepareFirstBatch(_data: Float32Array, _rows: number): void {}

  /**
   * Scan the codes of every allowed row for query `qi` (of the prepared `queries`), keeping the best
   * `heap.k` by code score in `heap`.
   */
  protected abstract scan(queries: Float32Array, qi: number, heap: RowHeap, allowed: Uint8Array | null): void;

  /** Scan for every query; a subclass may score all queries at once (the int8 matMul path). */
  protected scanAll(queries: Float32Array, heaps: RowHeap[], allowed: Uint8Array | null): void {
    for (let qi = 0; qi < heaps.length; qi++) this.scan(queries, qi, heaps[qi], allowed);
  }

  /** The rescoring score of `row` against the float query at `offset` when no float vectors are kept. */
  protected abstract codeRescore(q: Float32Array, offset: number, row: number): number;

  /** Called once per search with the prepared queries, before any scan (e.g. to quantize them). */
  protected abstract beginSearch(queries: Float32Array, rows: number): void;

  /** Truncate (Matryoshka) and normalise (cosine) a copy of the incoming rows. */
  protected prepare(m: Matrix): Float32Array {
    const d = this.dim;
    let data: Float32Array;
    if (d === m.cols) data = Float32Array.from(m.data);
    else {
      data = new Float32Array(m.rows * d);
      for (let r = 0; r < m.rows; r++) data.set(m.data.subarray(r * m.cols, r * m.cols + d), r * d);
    }
    if (this.metric === 'cosine') normalizeRows(data, d);
    return data;
  }

  /**
   * Code storage for at least `rows` rows holding the first `keepBytes` of the current codes (geometric
   * growth). A subclass may keep its codes elsewhere (BinaryIndex: in its kernel's WebAssembly memory).
   */
  protected growCodes(rows: number, keepBytes: number): Uint8Array {
    const cap = Math.max(rows, 2 * (this.codes.length / this.codeBytes));
    const grown = new Uint8Array(cap * this.codeBytes);
    grown.set(this.codes.subarray(0, keepBytes));
    return grown;
  }

  private reserve(rows: number): void {
    const cb = this.codeBytes;
    const d = this.dim;
    if (rows * cb > this.codes.length) this.codes = this.growCodes(rows, this.size * cb);
    // The vectors grow geometrically on their own: a subclass's codes may grow page by page.
    if (this.keepVectors && rows * d > this.vectors.length) {
      const v = new Float32Array(Math.max(rows, 2 * (this.vectors.length / d)) * d);
      v.set(this.vectors.subarray(0, this.size * d));
      this.vectors = v;
    }
  }

  /** Write prepared rows at the given row positions (appending where `row === size`). */
  private store(data: Float32Array, rows: number[], ids: string[]): void {
    const cb = this.codeBytes;
    const d = this.dim;
    const encoded = new Uint8Array(rows.length * cb);
    this.encode(data, rows.length, encoded);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      this.codes.set(encoded.subarray(i * cb, (i + 1) * cb), row * cb);
      if (this.keepVectors) this.vectors.set(data.subarray(i * d, (i + 1) * d), row * d);
      if (row === this.ids.length) this.ids.push(ids[i]);
      this.idToRow.set(ids[i], row);
    }
  }

  async add(vectors: Matrix, ids: string[]): Promise<void> {
    checkNotInFilter(this.filterState, 'add');
    vectors = fitToIndex(vectors, this.inputDim, this.dim);
    checkMatrix('vectors', vectors, this.dim);
    checkIds(ids, vectors.rows, this.idToRow);
    if (vectors.rows === 0) return;
    const data = this.prepare(vectors);
    if (this.size === 0) this.prepareFirstBatch(data, vectors.rows);
    this.reserve(this.size + vectors.rows);
    this.store(
      data,
      ids.map((_, i) => this.size + i),
      ids,
    );
  }

  async upsert(vectors: Matrix, ids: string[]): Promise<void> {
    checkNotInFilter(this.filterState, 'upsert');
    vectors = fitToIndex(vectors, this.inputDim, this.dim);
    checkMatrix('vectors', vectors, this.dim);
    checkIds(ids, vectors.rows, new Map());
    if (vectors.rows === 0) return;
    const data = this.prepare(vectors);
    if (this.size === 0) this.prepareFirstBatch(data, vectors.rows);
    let next = this.size;
    const rows = ids.map((id) => this.idToRow.get(id) ?? next++);
    this.reserve(next);
    this.store(data, rows, ids);
  }

  async remove(ids: string[]): Promise<number> {
    checkNotInFilter(this.filterState, 'remove');
    const gone = new Set<number>();
    for (const id of ids) {
      const row = this.idToRow.get(id);
      if (row !== undefined) gone.add(row);
    }
    if (gone.size === 0) return 0;
    // Compaction: later rows move down over the removed ones, keeping their order.
    const cb = this.codeBytes;
    const d = this.dim;
    let w = 0;
    const kept: string[] = [];
    for (let r = 0; r < this.ids.length; r++) {
      if (gone.has(r)) {
        this.idToRow.delete(this.ids[r]);
        continue;
      }
      if (w !== r) {
        this.codes.copyWithin(w * cb, r * cb, (r + 1) * cb);
        if (this.keepVectors) this.vectors.copyWithin(w * d, r * d, (r + 1) * d);
        this.idToRow.set(this.ids[r], w);
      }
      kept.push(this.ids[r]);
      w++;
    }
    this.ids = kept;
    return gone.size;
  }

  async search(queries: Matrix, k: number, options: SearchOptions = {}): Promise<SearchResult> {
    checkOptionKeys('search', options, SEARCH_OPTION_KEYS);
    queries = fitToIndex(queries, this.inputDim, this.dim);
    checkMatrix('queries', queries, this.dim);
    checkK(k, this.size);
    const mult = checkPositiveInt('rescoreMultiplier', options.rescoreMultiplier ?? this.rescoreMultiplier);
    const rescore = options.rescore !== false;
    const q = this.prepare(queries);
    const d = this.dim;
    const n = this.size;
    // One predicate call per document per search, not per query.
    const allowed = allowedRows(filterWithin(checkFilter(options.filter), this.filterState), this.ids);
    this.beginSearch(q, queries.rows);
    const candidates = rescore ? Math.min(n, k * mult) : k;
    const out: SearchResult = { ids: [], scores: [] };
    const heaps = Array.from({ length: queries.rows }, () => new RowHeap(candidates));
    this.scanAll(q, heaps, allowed);
    for (let qi = 0; qi < queries.rows; qi++) {
      const heap = heaps[qi];
      const top = new TopK(k, this.ids);
      for (let c = 0; c < heap.count; c++) {
        const row = heap.rows[c];
        top.push(rescore ? this.rescoreRow(q, qi * d, row) : heap.scores[c], row);
      }
      const r = top.result();
      out.ids.push(r.rows.map((row) => this.ids[row]));
      out.scores.push(Float32Array.from(r.scores));
    }
    return out;
  }

  /** Float64 rescoring score of `row`: exact from the kept vector, else the subclass's code estimate. */
  private rescoreRow(q: Float32Array, offset: number, row: number): number {
    if (!this.keepVectors) return this.codeRescore(q, offset, row);
    const d = this.dim;
    const v = this.vectors;
    const base = row * d;
    if (this.metric === 'l2') {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const t = q[offset + j] - v[base + j];
        s += t * t;
      }
      return -s;
    }
    let s = 0;
    for (let j = 0; j < d; j++) s += q[offset + j] * v[base + j];
    return s;
  }

  abstract save(path: string): Promise<void>;

  /** Header fields and sections shared by the quantized kinds. */
  protected baseHeader(): Omit<ContainerHeader, 'kind'> {
    return {
      dim: this.inputDim,
      metric: this.metric,
      size: this.size,
      rescoreMultiplier: this.rescoreMultiplier,
      keepVectors: this.keepVectors,
      truncateDim: this.truncateDim ?? null,
      codeBytes: this.codeBytes,
    };
  }

  protected baseSections(): Record<string, Uint8Array> {
    const codes = this.codes.subarray(0, this.size * this.codeBytes);
    const sections: Record<string, Uint8Array> = { ids: jsonSection(this.ids), codes };
    if (this.keepVectors) {
      const v = this.vectors.subarray(0, this.size * this.dim);
      sections.vectors = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    }
    return sections;
  }

  /** Restore ids, codes and vectors saved by {@link baseSections}, checking their sizes. */
  protected restore(header: ContainerHeader, sections: Map<string, Section>, file: string): void {
    const kind = String(header.kind);
    const size = headerField.int(header, 'size', file, 0, 2 ** 32 - 1);
    headerField.int(header, 'codeBytes', file, this.codeBytes, this.codeBytes);
    const ids = parseIdsSection(sections, 'ids', size, file);
    const codes = sectionBytes(requireSection(sections, 'codes', file), file);
    if (codes.byteLength !== size * this.codeBytes) {
      throw new InputFormatError(
        `corrupt ${kind} index: section 'codes' holds ${codes.byteLength} bytes, the header's size x codeBytes is ${size * this.codeBytes}`,
        file,
      );
    }
    if (this.keepVectors) {
      const vectors = sectionFloat32(requireSection(sections, 'vectors', file), file);
      if (vectors.length !== size * this.dim) {
        throw new InputFormatError(
          `corrupt ${kind} index: section 'vectors' holds ${vectors.length} values, the header's size x dim is ${size * this.dim}`,
          file,
        );
      }
      const bad = vectors.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) {
        throw new InputFormatError(
          `corrupt ${kind} index: kept vector of '${ids[Math.floor(bad / this.dim)]}' holds a non-finite value`,
          file,
        );
      }
      this.vectors = vectors;
    }
    this.codes = this.growCodes(size, 0);
    this.codes.set(codes);
    this.ids = ids;
    this.idToRow = new Map(ids.map((id, row) => [id, row]));
  }
}

/** Options common to the quantized kinds as read back from a header. */
export function baseOptionsFromHeader(header: ContainerHeader, file: string): QuantizedIndexOptions {
  const dim = headerField.int(header, 'dim', file, 1, 2 ** 24);
  return {
    dim,
    metric: headerField.choice(header, 'metric', file, METRICS),
    rescoreMultiplier: headerField.int(header, 'rescoreMultiplier', file, 1, 2 ** 24),
    keepVectors: headerField.bool(header, 'keepVectors', file),
    truncateDim:
      header.truncateDim === null || header.truncateDim === undefined
        ? undefined
        : headerField.int(header, 'truncateDim', file, 1, dim),
  };
}

/** The keys of {@link QuantizedIndexOptions} (all of {@link BinaryIndex}'s). */
export const QUANTIZED_OPTION_KEYS = optionKeys<QuantizedIndexOptions>({
  dim: true,
  metric: true,
  rescoreMultiplier: true,
  keepVectors: true,
  truncateDim: true,
});
