import { ArgumentError, InputFormatError } from '../errors.js';
import type { Matrix } from '../types.js';
import {
  headerField,
  jsonSection,
  parseIdsSection,
  readContainer,
  requireSection,
  sectionFloat32,
  writeContainer,
} from './container.js';
import { TopK } from './topk.js';
import { tfWithBackend } from '../util/tf-lazy.js';
import type { Tf } from '../util/tf-lazy.js';
import type { Metric, SearchOptions, SearchResult, VectorIndex } from './types.js';
import { checkTruncateDim, dims, fitToIndex } from '../util/truncate.js';
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
import { checkOptionKeys, optionKeys } from '../util/options.js';

/** Options of {@link ExactIndex}. */
export interface ExactIndexOptions {
  /** Vector dimension. */
  dim: number;
  /** Similarity; default `ip`. */
  metric?: Metric;
  /** Documents scored together against a group of queries (cache blocking); default 1024. */
  blockSize?: number;
  /**
   * Matryoshka truncation: index only the first `truncateDim` of `dim` coordinates (vectors and queries
   * are cut on the way in; re-normalised under `cosine`). Smaller and faster, at the recall the model's
   * Matryoshka training kept there. Default: no truncation.
   */
  truncateDim?: number;
  /**
   * Rows to reserve up front (default 0). When the corpus size is known, this avoids the geometric regrowth
   * of the store while adding in chunks, which can briefly hold up to three times the final store.
   */
  capacity?: number;
}

/**
 * Exhaustive (brute-force) search: the reference every approximate index is measured against.
 *
 * Scoring is a float32 tfjs `matMul` of document blocks against all queries (the backend's fast
 * untransposed product), used only to pick candidates: a document is rescored in float64 when its float32
 * score plus a rigorous rounding-error bound (gamma_dim * ||q|| * max ||d||) can still reach the query's
 * k-th best float64 score, so the ranking equals a float64 brute force, near-ties included. On the tfjs
 * `cpu` backend, whose matMul is plain JS, and for vectors so large that a float32 product could overflow, a
 * scalar float64 loop scores instead. Each query keeps a bounded heap of its best `k` (O(n log k), no full
 * sort); memory is the store plus one [blockSize, 1024] score block; tensors live only during a search.
 * Ties are broken by document id, higher first, as trec_eval does.
 *
 * @example
 * ```ts
 * import { ExactIndex } from 'dense-retrieval';
 * const index = new ExactIndex({ dim: 3, metric: 'ip' });
 * await index.add({ data: new Float32Array([1, 0, 0, 0, 1, 0]), rows: 2, cols: 3 }, ['d1', 'd2']);
 * const { ids, scores } = await index.search({ data: new Float32Array([0.9, 0.1, 0]), rows: 1, cols: 3 }, 1);
 * // ids[0] = ['d1'], scores[0][0] ≈ 0.9
 * await index.save('corpus.exact');
 * ```
 */
const EXACTINDEXOPTIONS_KEYS = optionKeys<ExactIndexOptions>({
  dim: true,
  metric: true,
  blockSize: true,
  truncateDim: true,
  capacity: true,
});

/** Queries scored per matMul: bounds the float32 score block at blockSize x 1024 values. */
const QUERY_CHUNK = 1024;

export class ExactIndex implements VectorIndex {
  /** Set while this index's search filter runs: the index refuses changes from inside it. */
  private readonly filterState: FilterState = { inFilter: false };
  /** Dimension indexed (`truncateDim` when set). */
  readonly dim: number;
  /** Dimension of the vectors `add`/`search` take; wider than `dim` under Matryoshka truncation. */
  readonly inputDim: number;
  readonly truncateDim: number | undefined;
  readonly metric: Metric;
  readonly blockSize: number;
  private store: Float32Array;
  private sqNorms: Float64Array;
  private ids: string[] = [];
  private idToRow = new Map<string, number>();

  constructor(opts: ExactIndexOptions) {
    checkOptionKeys('ExactIndex', opts, EXACTINDEXOPTIONS_KEYS);
    this.inputDim = checkPositiveInt('dim', opts.dim);
    this.truncateDim =
      opts.truncateDim === undefined ? undefined : checkTruncateDim(opts.truncateDim, this.inputDim);
    this.dim = this.truncateDim ?? this.inputDim;
    this.metric = checkMetric(opts.metric ?? 'ip');
    this.blockSize = checkPositiveInt('blockSize', opts.blockSize ?? 1024);
    const capacity = opts.capacity ?? 0;
    if (!Number.isInteger(capacity) || capacity < 0) {
      throw new ArgumentError('capacity', `must be a non-negative integer, got ${capacity}`);
    }
    this.store = new Float32Array(capacity * this.dim);
    this.sqNorms = new Float64Array(capacity);
  }

  get size(): number {
    return this.ids.length;
  }

  /** Document ids in insertion order. */
  get documentIds(): readonly string[] {
    return this.ids;
  }

  /** The stored vector of row `row` (normalised under `cosine`). */
  vector(row: number): Float32Array {
    return this.store.subarray(row * this.dim, (row + 1) * this.dim);
  }

  async add(vectors: Matrix, ids: string[]): Promise<void> {
    checkNotInFilter(this.filterState, 'add');
    vectors = fitToIndex(vectors, this.inputDim, this.dim);
    checkMatrix('vectors', vectors, this.dim);
    checkIds(ids, vectors.rows, this.idToRow);
    this.append(vectors, ids, this.metric === 'cosine');
  }

  private append(vectors: Matrix, ids: string[], normalize: boolean): void {
    const n = this.size;
    const need = (n + vectors.rows) * this.dim;
    if (need > this.store.length) {
      // Grow geometrically so that adding a corpus in chunks stays linear.
      const grown = new Float32Array(Math.max(need, this.store.length * 2));
      grown.set(this.store.subarray(0, n * this.dim));
      this.store = grown;
      const norms = new Float64Array(grown.length / this.dim);
      norms.set(this.sqNorms.subarray(0, n));
      this.sqNorms = norms;
    }
    const dst = this.store.subarray(n * this.dim, need);
    dst.set(vectors.data);
    if (normalize) normalizeRows(dst, this.dim);
    for (let r = 0; r < vectors.rows; r++) {
      let s = 0;
      const o = (n + r) * this.dim;
      for (let j = 0; j < this.dim; j++) s += this.store[o + j] * this.store[o + j];
      this.sqNorms[n + r] = s;
      this.ids.push(ids[r]);
      this.idToRow.set(ids[r], n + r);
    }
  }

  /**
   * Replace the vectors of ids already in the index (in place) and append the new ones.
   *
   * @throws {ArgumentError} on a bad matrix or ids repeated within the batch.
   */
  async upsert(vectors: Matrix, ids: string[]): Promise<void> {
    checkNotInFilter(this.filterState, 'upsert');
    vectors = fitToIndex(vectors, this.inputDim, this.dim);
    checkMatrix('vectors', vectors, this.dim);
    checkIds(ids, vectors.rows, new Map());
    const d = this.dim;
    const fresh: number[] = [];
    for (let r = 0; r < vectors.rows; r++) {
      const row = this.idToRow.get(ids[r]);
      if (row === undefined) {
        fresh.push(r);
        continue;
      }
      const dst = this.store.subarray(row * d, (row + 1) * d);
      dst.set(vectors.data.subarray(r * d, (r + 1) * d));
      if (this.metric === 'cosine') normalizeRows(dst, d);
      let sq = 0;
      for (let j = 0; j < d; j++) sq += dst[j] * dst[j];
      this.sqNorms[row] = sq;
    }
    if (fresh.length === 0) return;
    const data = new Float32Array(fresh.length * d);
    fresh.forEach((r, i) => data.set(vectors.data.subarray(r * d, (r + 1) * d), i * d));
    this.append(
      { data, rows: fresh.length, cols: d },
      fresh.map((r) => ids[r]),
      this.metric === 'cosine',
    );
  }

  /**
   * Remove documents by id (unknown ids are ignored); the later rows move down, keeping their order, so
   * memory is reclaimed at once. Resolves to the number removed.
   */
  async remove(ids: string[]): Promise<number> {
    checkNotInFilter(this.filterState, 'remove');
    const gone = new Set<number>();
    for (const id of ids) {
      const row = this.idToRow.get(id);
      if (row !== undefined) gone.add(row);
    }
    if (gone.size === 0) return 0;
    const d = this.dim;
    const kept: string[] = [];
    for (let r = 0; r < this.ids.length; r++) {
      if (gone.has(r)) {
        this.idToRow.delete(this.ids[r]);
        continue;
      }
      const w = kept.length;
      if (w !== r) {
        this.store.copyWithin(w * d, r * d, (r + 1) * d);
        this.sqNorms[w] = this.sqNorms[r];
        this.idToRow.set(this.ids[r], w);
      }
      kept.push(this.ids[r]);
    }
    this.ids = kept;
    return gone.size;
  }

  /**
   * Top-`k` per query; with `options.filter`, only documents whose id passes (fewer than `k` results
   * when fewer pass). `ef` and the rescoring options do not apply to exact search.
   */
  async search(queries: Matrix, k: number, options: SearchOptions = {}): Promise<SearchResult> {
    checkOptionKeys('search', options, SEARCH_OPTION_KEYS);
    queries = fitToIndex(queries, this.inputDim, this.dim);
    checkMatrix('queries', queries, this.dim);
    checkK(k, this.size);
    // One predicate call per document per search, not per query and document.
    const allowed = allowedRows(filterWithin(checkFilter(options.filter), this.filterState), this.ids);
    const d = this.dim;
    const nq = queries.rows;
    const q = Float32Array.from(queries.data);
    if (this.metric === 'cosine') normalizeRows(q, d);
    const qSq = new Float64Array(nq);
    for (let i = 0; i < nq; i++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += q[i * d + j] * q[i * d + j];
      qSq[i] = s;
    }
    const heaps = Array.from({ length: nq }, () => new TopK(k, this.ids));
    let maxQSq = 0;
    for (let i = 0; i < nq; i++) if (qSq[i] > maxQSq) maxQSq = qSq[i];
    let maxSq = 0;
    for (let r = 0; r < this.size; r++) if (this.sqNorms[r] > maxSq) maxSq = this.sqNorms[r];
    // Every float32 partial sum of q.d is at most about ||q|| ||d||: below 1e37 nothing can overflow to
    // Infinity or NaN, which the error bound of the matMul path does not cover.
    const fitsFloat32 = Math.sqrt(maxQSq) * Math.sqrt(maxSq) < 1e37;
    // The cpu backend's matMul is plain JS and slower than the scalar loop (7.4 s against 2.9 s for
    // 256 queries x 20k x 384-d), so it keeps the loop; every other backend takes the matMul path. With no
    // backend initialised yet, the loop too: `tf.getBackend()` would make tfjs pick one by itself (its cpu
    // backend, with its "install tfjs-node" banner) behind the host's back.
    const tfb = await tfWithBackend();
    if (tfb === undefined || tfb.backend === 'cpu' || !fitsFloat32) this.scoreScalar(q, qSq, heaps, allowed);
    else this.scoreMatMul(tfb.tf, q, qSq, maxSq, heaps, allowed);
    const out: SearchResult = { ids: [], scores: [] };
    for (const h of heaps) {
      const r = h.result();
      out.ids.push(r.rows.map((row) => this.ids[row]));
      out.scores.push(Float32Array.from(r.scores));
    }
    return out;
  }

  /**
   * Float32 matMul scores select candidates, float64 rescoring ranks them: a document is rescored only
   * when its float32 score, plus a rigorous bound on the float32 rounding error, can still reach the
   * query's k-th best float64 score so far, so the result equals a float64 brute force.
   */
  private scoreMatMul(
    tf: Tf,
    q: Float32Array,
    qSq: Float64Array,
    maxSq: number,
    heaps: TopK[],
    allowed: Uint8Array | null,
  ): void {
    const d = this.dim;
    const nq = qSq.length;
    const n = this.size;
    const l2 = this.metric === 'l2';
    const store = this.store;
    const norms = this.sqNorms;
    const maxNorm = Math.sqrt(maxSq);
    // Float64 dot product in the same order as the float64 reference, so kept scores equal it exactly.
    const exactScore = (qi: number, row: number): number => {
      const q0 = qi * d;
      const o = row * d;
      let s = 0;
      for (let j = 0; j < d; j++) s += q[q0 + j] * store[o + j];
      return l2 ? -(qSq[qi] - 2 * s + norms[row]) : s;
    };
    // Rigorous bound on |float32 score - float64 score|: the float32 dot product of d terms, in any
    // summation order, is within gamma_d * sum|q_i d_i| <= gamma_d * ||q|| ||d|| of the real one (Higham,
    // 3.1); the float64 rescoring and the l2 assembly add far less. We double gamma, widen by 1e-6 for the
    // norms rounded in float64, add 1e-30 for underflow (or flush-to-zero) in the products and, under l2,
    // a relative 1e-12 for the float64 assembly of the distance.
    const u = 2 ** -24;
    const gamma = (2 * ((d + 2) * u)) / (1 - (d + 2) * u);
    const slack = new Float64Array(nq);
    for (let i = 0; i < nq; i++) {
      const dotErr = gamma * Math.sqrt(qSq[i]) * maxNorm * (1 + 1e-6) + 1e-30;
      slack[i] = l2 ? 2 * dotErr + 1e-12 * (qSq[i] + maxSq) : dotErr;
    }
    // Candidate cut-off per query: the float64 k-th best so far minus the error bound. A document whose
    // float32 score is below it cannot reach the k-th best even on a tie, so it is skipped unscored.
    const cut = new Float64Array(nq).fill(-Infinity);
    const consider = (qi: number, row: number): void => {
      if (allowed !== null && allowed[row] === 0) return;
      const h = heaps[qi];
      h.push(exactScore(qi, row), row);
      cut[qi] = h.threshold - slack[qi];
    };
    const bs = this.blockSize;
    // Queries are scored in chunks so the [block, chunk] score matrix stays bounded.
    const chunk = Math.min(nq, QUERY_CHUNK);
    for (let c0 = 0; c0 < nq; c0 += chunk) {
      const c1 = Math.min(nq, c0 + chunk);
      const m = c1 - c0;
      // Queries transposed to [dim, m] so the product docs [b, dim] x queries [dim, m] is untransposed,
      // the fast path of the backend's matMul, without a transposed copy of the corpus.
      const qt = new Float32Array(d * m);
      for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) qt[j * m + i] = q[(c0 + i) * d + j];
      const qTensor = tf.tensor2d(qt, [d, m]);
      try {
        for (let b0 = 0; b0 < n; b0 += bs) {
          const b1 = Math.min(n, b0 + bs);
          const approx = tf.tidy(() => {
            const docs = tf.tensor2d(store.subarray(b0 * d, b1 * d), [b1 - b0, d]);
            return tf.matMul(docs, qTensor);
          });
          let a: Float32Array;
          try {
            a = approx.dataSync() as Float32Array;
          } finally {
            approx.dispose();
          }
          // This loop runs n x queries times: kept branch-light, the rare candidates go to `consider`.
          if (l2) {
            for (let row = b0; row < b1; row++) {
              const base = (row - b0) * m;
              const rowSq = norms[row];
              for (let i = 0; i < m; i++) {
                if (-(qSq[c0 + i] - 2 * a[base + i] + rowSq) >= cut[c0 + i]) consider(c0 + i, row);
              }
            }
          } else {
            for (let row = b0; row < b1; row++) {
              const base = (row - b0) * m;
              for (let i = 0; i < m; i++) if (a[base + i] >= cut[c0 + i]) consider(c0 + i, row);
            }
          }
        }
      } finally {
        qTensor.dispose();
      }
    }
  }

  /**
   * Scalar float64 scoring: four queries share each document load (the loop is memory-bound otherwise)
   * over cache-sized blocks of documents.
   */
  private scoreScalar(q: Float32Array, qSq: Float64Array, heaps: TopK[], allowed: Uint8Array | null): void {
    const d = this.dim;
    const nq = qSq.length;
    const l2 = this.metric === 'l2';
    const store = this.store;
    const norms = this.sqNorms;
    const n = this.size;
    const score = (qi: number, dot: number, row: number): number =>
      l2 ? -(qSq[qi] - 2 * dot + norms[row]) : dot;
    for (let b0 = 0; b0 < n; b0 += this.blockSize) {
      const b1 = Math.min(n, b0 + this.blockSize);
      let qi = 0;
      // Four queries share each document load: the loop is memory-bound otherwise.
      for (; qi + 4 <= nq; qi += 4) {
        const q0 = qi * d;
        const q1 = q0 + d;
        const q2 = q1 + d;
        const q3 = q2 + d;
        const h0 = heaps[qi];
        const h1 = heaps[qi + 1];
        const h2 = heaps[qi + 2];
        const h3 = heaps[qi + 3];
        for (let row = b0; row < b1; row++) {
          if (allowed !== null && allowed[row] === 0) continue;
          const o = row * d;
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          let s3 = 0;
          for (let j = 0; j < d; j++) {
            const x = store[o + j];
            s0 += q[q0 + j] * x;
            s1 += q[q1 + j] * x;
            s2 += q[q2 + j] * x;
            s3 += q[q3 + j] * x;
          }
          h0.push(score(qi, s0, row), row);
          h1.push(score(qi + 1, s1, row), row);
          h2.push(score(qi + 2, s2, row), row);
          h3.push(score(qi + 3, s3, row), row);
        }
      }
      for (; qi < nq; qi++) {
        const q0 = qi * d;
        const h = heaps[qi];
        for (let row = b0; row < b1; row++) {
          if (allowed !== null && allowed[row] === 0) continue;
          const o = row * d;
          let s = 0;
          for (let j = 0; j < d; j++) s += q[q0 + j] * store[o + j];
          h.push(score(qi, s, row), row);
        }
      }
    }
  }

  async save(path: string): Promise<void> {
    const vectors = this.store.subarray(0, this.size * this.dim);
    await writeContainer(
      path,
      {
        kind: 'exact',
        dim: this.dim,
        metric: this.metric,
        size: this.size,
        blockSize: this.blockSize,
        inputDim: this.inputDim,
      },
      { ids: jsonSection(this.ids), vectors },
    );
  }

  /**
   * Load an index written by {@link ExactIndex.save}. Another format version, another index kind, a
   * truncated file, a checksum mismatch, a header field of the wrong type, ids that are not unique strings
   * without whitespace, a non-finite vector, or (under `cosine`) a stored vector that is not unit-length are
   * {@link InputFormatError}s naming the file.
   */
  static async load(path: string): Promise<ExactIndex> {
    const { header, sections } = await readContainer(path, 'exact');
    const dim = headerField.int(header, 'dim', path, 1);
    const size = headerField.int(header, 'size', path, 0);
    const metric = headerField.choice(header, 'metric', path, METRICS);
    const blockSize =
      header.blockSize === undefined ? 1024 : headerField.int(header, 'blockSize', path, 1, 2 ** 30);
    const ids = parseIdsSection(sections, 'ids', size, path);
    const vectors = sectionFloat32(requireSection(sections, 'vectors', path), path);
    if (vectors.length !== size * dim) {
      throw new InputFormatError(
        `corrupt exact index: section 'vectors' holds ${vectors.length} values, the header's size x dim is ${size * dim}`,
        path,
      );
    }
    // Matryoshka: the width of the vectors add/search take (absent in files from before truncation).
    const inputDim = header.inputDim === undefined ? dim : headerField.int(header, 'inputDim', path, dim);
    const index = new ExactIndex({ ...dims(dim, inputDim), metric, blockSize });
    // The section's own buffer becomes the store (no copy: a multi-GiB store is not held twice). Stored
    // vectors are already normalised under cosine: normalising again could move them by an ulp.
    index.store = vectors;
    index.sqNorms = new Float64Array(size);
    for (let r = 0; r < size; r++) {
      let s = 0;
      const o = r * dim;
      for (let j = 0; j < dim; j++) {
        const x = vectors[o + j];
        if (!Number.isFinite(x)) {
          throw new InputFormatError(
            `corrupt exact index: vector of '${ids[r]}' (row ${r}) contains ${Number.isNaN(x) ? 'NaN' : 'an infinite value'}`,
            path,
          );
        }
        s += x * x;
      }
      if (metric === 'cosine' && s !== 0 && Math.abs(s - 1) > 1e-3) {
        throw new InputFormatError(
          `corrupt exact index: cosine index stores unit vectors, but '${ids[r]}' (row ${r}) has norm ${Math.sqrt(s)}`,
          path,
        );
      }
      index.sqNorms[r] = s;
    }
    index.ids = ids;
    index.idToRow = new Map(ids.map((id, row) => [id, row]));
    return index;
  }
}
