import { ArgumentError, InputFormatError } from '../errors.js';
import type { Matrix } from '../types.js';
import { headerField, readContainer, sectionFloat32, writeContainer } from './container.js';
import { calibrationRanges, int8BucketMiddles, ScalarQuantizer } from '../util/quantize.js';
import { tfWithBackend } from '../util/tf-lazy.js';
import type { QuantizationRanges } from '../util/quantize.js';
import { baseOptionsFromHeader, QuantizedIndex } from './quantized.js';
import { optionKeys } from '../util/options.js';
import type { QuantizedIndexOptions, RowHeap } from './quantized.js';

/** Options of {@link Int8Index}. */
export interface Int8IndexOptions extends QuantizedIndexOptions {
  /** Per-dimension ranges of the int8 codes (of the truncated, normalised vectors). */
  ranges?: QuantizationRanges;
  /**
   * Vectors the ranges are computed from (min/max per dimension, after truncation and normalisation),
   * when `ranges` is not given. Without either, the first batch passed to `add` calibrates the index:
   * add a representative batch first (values outside the ranges are clamped to -128 / 127).
   */
  calibration?: Matrix;
}

/**
 * Exact search over int8 codes with rescoring: documents are stored as int8 codes of sentence-transformers'
 * ranges (1 byte per dimension, 4x less than float32) with uniform buckets, `floor(t) - 128` for
 * `t = (x - min) / step` (ST's uint8 code minus 128, faiss `QT_8bit`'s layout; ST's own int8 formula
 * truncates toward zero and merges two buckets into code 0: {@link ScalarQuantizer.int8Floor}). Every search
 * scans all codes with the float32 query against the dequantized codes (bucket middles
 * `min + step * (code + 128.5)`: faiss `IndexScalarQuantizer`'s asymmetric distance, run as a matMul on
 * blocks of codes widened to float32), keeps `k * rescoreMultiplier` candidates and rescores them in float64,
 * against the same dequantized codes or, with `keepVectors`, against the float32 documents. (ST and usearch
 * score two int8 codes against each other; that ignores each dimension's range offset and width and ranked
 * embeddings that share a direction badly: recall@10 0.35 against 0.95 on untrained-model SciFact
 * embeddings.) Indexes saved before uniform buckets keep ST's int8 codes and are searched with them.
 *
 * Trade-offs: without `keepVectors` the rescoring only re-sorts the float32 scan's candidates in float64
 * (x1 is enough; recall is the codes' resolution); with it, `rescoreMultiplier` buys exact float recall with
 * rescoring time, at 5x the memory. Ranges from a calibration set representative of the corpus matter more
 * than any other knob (clamped values lose their order).
 *
 * @example
 * ```ts
 * import { Int8Index, ExactIndex, measureIndex } from 'dense-retrieval';
 * const index = new Int8Index({ dim: 384, metric: 'cosine', calibration: sample, rescoreMultiplier: 4 });
 * await index.add(corpus, ids);
 * const { ids: top } = await index.search(queries, 10);
 * console.log(index.bytesPerVector); // 384
 * ```
 */
export class Int8Index extends QuantizedIndex {
  protected readonly codeBytes: number;
  private quantizer: ScalarQuantizer | undefined;
  private queryWeights = new Float64Array(0);
  private queryConstants = new Float64Array(0);
  /**
   * How codes are made from positions: `'floor'` (uniform buckets, every index built by this version)
   * or `'trunc'` (ST's int8 formula: files saved before; header field `int8Codes` absent).
   */
  private codeFormula: 'floor' | 'trunc' = 'floor';
  private middles = int8BucketMiddles('floor');
  /** tfjs when a backend is initialised (looked up by `search`), for the matMul code scan. */
  private tfb: Awaited<ReturnType<typeof tfWithBackend>>;

  constructor(opts: Int8IndexOptions) {
    super(opts, 'Int8Index', INT8_OPTION_KEYS);
    this.codeBytes = this.dim;
    if (opts.ranges !== undefined) this.setRanges(opts.ranges);
    else if (opts.calibration !== undefined) {
      if (opts.calibration.cols !== this.inputDim && opts.calibration.cols !== this.dim) {
        throw new ArgumentError(
          'calibration',
          `has ${opts.calibration.cols} dimensions, the index ${this.dim}`,
        );
      }
      const prepared = this.prepare(opts.calibration);
      this.setRanges(calibrationRanges({ data: prepared, rows: opts.calibration.rows, cols: this.dim }));
    }
  }

  private setRanges(ranges: QuantizationRanges): void {
    const q = new ScalarQuantizer(ranges);
    if (q.dim !== this.dim) {
      throw new ArgumentError('ranges', `cover ${q.dim} dimensions, the index stores ${this.dim}`);
    }
    this.quantizer = q;
  }

  /** The ranges of the codes (undefined until calibrated). */
  get ranges(): QuantizationRanges | undefined {
    return this.quantizer === undefined ? undefined : { min: this.quantizer.min, max: this.quantizer.max };
  }

  protected override prepareFirstBatch(data: Float32Array, rows: number): void {
    if (this.quantizer === undefined) this.setRanges(calibrationRanges({ data, rows, cols: this.dim }));
  }

  private get q(): ScalarQuantizer {
    if (this.quantizer === undefined) throw new ArgumentError('index', 'not calibrated (add vectors first)');
    return this.quantizer;
  }

  protected encode(data: Float32Array, rows: number, out: Uint8Array): void {
    const q = this.q;
    const d = this.dim;
    const codes = new Int8Array(out.buffer, out.byteOffset, rows * d);
    if (this.codeFormula === 'floor')
      for (let i = 0; i < rows * d; i++) codes[i] = q.int8Floor(data[i], i % d);
    else for (let i = 0; i < rows * d; i++) codes[i] = q.int8(data[i], i % d);
    this.warnClamped(data, rows);
  }

  /** Whether the clamping warning was given: once per index, so a streamed build does not flood stderr. */
  private clampWarned = false;

  /**
   * Values outside the calibration ranges lose their order (they all get the end code), which silently
   * costs recall (0.53 on a batch far outside the first one's ranges): say so once, with the count.
   */
  private warnClamped(data: Float32Array, rows: number): void {
    if (this.clampWarned) return;
    const { min, max } = this.q;
    const d = this.dim;
    let clamped = 0;
    let vectors = 0;
    for (let r = 0; r < rows; r++) {
      let inRow = 0;
      for (let j = 0, o = r * d; j < d; j++) if (data[o + j] < min[j] || data[o + j] > max[j]) inRow++;
      clamped += inRow;
      if (inRow > 0) vectors++;
    }
    if (clamped === 0) return;
    this.clampWarned = true;
    process.emitWarning(
      `Int8Index: ${clamped} of ${rows * d} values (in ${vectors} of ${rows} vectors) lie outside the ` +
        'calibration ranges and were clamped to the end codes, which costs recall; calibrate on a sample ' +
        'representative of the whole corpus (the calibration or ranges option). Reported once per index.',
      { code: 'DENSE_RETRIEVAL_INT8_CLAMPED' },
    );
  }

  override async search(...args: Parameters<QuantizedIndex['search']>): ReturnType<QuantizedIndex['search']> {
    this.tfb = await tfWithBackend();
    try {
      return await super.search(...args);
    } finally {
      this.tfb = undefined;
    }
  }

  /**
   * Per query: the weights `w_j` and the constant `c` of its score as a linear function of the documents'
   * bucket middles `T(code_j)`. Under `ip`/`cosine`, `q · v = sum_j (q_j step_j) T_j + sum_j q_j min_j`;
   * under `l2`, with `r = q - min`, `-|q - v|^2 = -(|r|^2 - 2 sum_j (r_j step_j) T_j + sum_j (step_j T_j)^2)`.
   */
  protected beginSearch(queries: Float32Array, rows: number): void {
    const d = this.dim;
    const { min, steps } = this.q;
    const l2 = this.metric === 'l2';
    this.queryWeights = new Float64Array(rows * d);
    this.queryConstants = new Float64Array(rows);
    for (let i = 0; i < rows; i++) {
      let c = 0;
      for (let j = 0; j < d; j++) {
        const x = queries[i * d + j];
        const r = l2 ? x - min[j] : x;
        this.queryWeights[i * d + j] = r * steps[j];
        c += l2 ? r * r : x * min[j];
      }
      this.queryConstants[i] = c;
    }
  }

  /** `sum_j (step_j T(code_j))^2` of `row`, the document's part of the `l2` score. */
  private docSquare(docs: Int8Array, row: number): number {
    const d = this.dim;
    const steps = this.q.steps;
    const mid = this.middles;
    let s = 0;
    for (let j = 0; j < d; j++) {
      const v = steps[j] * mid[docs[row * d + j] + 128];
      s += v * v;
    }
    return s;
  }

  /**
   * The float query against the dequantized codes (faiss `IndexScalarQuantizer`'s asymmetric distance, and
   * the same number as the code rescoring): an integer product of two codes (usearch's `i8`, the first
   * version of this scan) ignores each dimension's range offset `min_j` and width `step_j`, so on vectors
   * that share a direction (ranges far from centred at 0) it ranked by the wrong quantity (recall@10 0.35
   * at rescore x1 on untrained-model SciFact embeddings, docs/index-tuning.md).
   */
  protected scan(_queries: Float32Array, qi: number, heap: RowHeap, allowed: Uint8Array | null): void {
    const d = this.dim;
    const docs = new Int8Array(this.codes.buffer, this.codes.byteOffset, this.size * d);
    const w = this.queryWeights.subarray(qi * d, (qi + 1) * d);
    const c = this.queryConstants[qi];
    const mid = this.middles;
    const n = this.size;
    const l2 = this.metric === 'l2';
    for (let row = 0; row < n; row++) {
      if (allowed !== null && allowed[row] === 0) continue;
      const o = row * d;
      let s = 0;
      for (let j = 0; j < d; j++) s += w[j] * mid[docs[o + j] + 128];
      const score = l2 ? -(c - 2 * s + this.docSquare(docs, row)) : s + c;
      if (score >= heap.threshold) heap.push(score, row);
    }
  }

  /**
   * All queries at once through the backend's matMul (wasm SIMD) on blocks of bucket middles widened to
   * float32 (the codes stay 1 byte each in memory); on the plain-JS `cpu` backend, or with no backend
   * initialised, the scalar scan. Only one [block, chunk] score matrix and one widened block live at a
   * time. Float32 products may order near-equal candidates differently from the float64 scan; rescoring
   * (the default) scores the candidates in float64 again.
   */
  protected override scanAll(queries: Float32Array, heaps: RowHeap[], allowed: Uint8Array | null): void {
    const d = this.dim;
    if (this.tfb === undefined || this.tfb.backend === 'cpu') {
      super.scanAll(queries, heaps, allowed);
      return;
    }
    const tf = this.tfb.tf;
    const n = this.size;
    const docs = new Int8Array(this.codes.buffer, this.codes.byteOffset, n * d);
    const mid = this.middles;
    const uniform = this.codeFormula === 'floor';
    const l2 = this.metric === 'l2';
    const BLOCK = 1024;
    const CHUNK = 1024;
    const block = new Float32Array(BLOCK * d);
    const docSq = new Float64Array(BLOCK);
    for (let c0 = 0; c0 < heaps.length; c0 += CHUNK) {
      const m = Math.min(CHUNK, heaps.length - c0);
      const qt = new Float32Array(d * m);
      // Uniform buckets: T(code) = code + 128.5, so the block holds the codes themselves (a plain int8 ->
      // float32 copy, no table lookup) and each query's constant takes 128.5 * sum_j w_j.
      const shift = new Float64Array(m);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < d; j++) {
          const w = this.queryWeights[(c0 + i) * d + j];
          qt[j * m + i] = w;
          if (uniform) shift[i] += 128.5 * w;
        }
      }
      const qTensor = tf.tensor2d(qt, [d, m]);
      try {
        for (let b0 = 0; b0 < n; b0 += BLOCK) {
          const b = Math.min(BLOCK, n - b0);
          if (uniform) block.set(docs.subarray(b0 * d, (b0 + b) * d));
          else for (let t = 0; t < b * d; t++) block[t] = mid[docs[b0 * d + t] + 128];
          if (l2) for (let r = 0; r < b; r++) docSq[r] = this.docSquare(docs, b0 + r);
          const product = tf.tidy(() => tf.matMul(tf.tensor2d(block.subarray(0, b * d), [b, d]), qTensor));
          let dots: Float32Array;
          try {
            dots = product.dataSync() as Float32Array;
          } finally {
            product.dispose();
          }
          for (let r = 0; r < b; r++) {
            const row = b0 + r;
            if (allowed !== null && allowed[row] === 0) continue;
            for (let i = 0; i < m; i++) {
              const dot = dots[r * m + i] + shift[i];
              const c = this.queryConstants[c0 + i];
              const s = l2 ? -(c - 2 * dot + docSq[r]) : dot + c;
              const h = heaps[c0 + i];
              if (s >= h.threshold) h.push(s, row);
            }
          }
        }
      } finally {
        qTensor.dispose();
      }
    }
  }

  /**
   * `min + step * middle(code)` per dimension: under `ip`/`cosine` the score is
   * `sum_j q_j min_j + sum_j (q_j step_j) middle(c_j)`, a table lookup and a multiply-add per dimension.
   */
  protected codeRescore(q: Float32Array, offset: number, row: number): number {
    const d = this.dim;
    const { min, steps } = this.q;
    const mid = this.middles;
    const docs = new Int8Array(this.codes.buffer, this.codes.byteOffset + row * d, d);
    let s = 0;
    if (this.metric === 'l2') {
      for (let j = 0; j < d; j++) {
        const t = q[offset + j] - (min[j] + steps[j] * mid[docs[j] + 128]);
        s -= t * t;
      }
      return s;
    }
    for (let j = 0; j < d; j++) s += q[offset + j] * (min[j] + steps[j] * mid[docs[j] + 128]);
    return s;
  }

  async save(path: string): Promise<void> {
    const ranges = this.ranges;
    const sections = this.baseSections();
    if (ranges !== undefined) {
      const both = new Float32Array(2 * this.dim);
      both.set(ranges.min);
      both.set(ranges.max, this.dim);
      sections.ranges = new Uint8Array(both.buffer);
    }
    await writeContainer(path, { kind: 'int8', ...this.baseHeader(), int8Codes: this.codeFormula }, sections);
  }

  /**
   * Load an index written by {@link Int8Index.save}; another format version, another kind or a
   * truncated file is an {@link InputFormatError}.
   */
  static async load(path: string): Promise<Int8Index> {
    const { header, sections } = await readContainer(path, 'int8');
    const index = new Int8Index(baseOptionsFromHeader(header, path));
    // Files written before uniform buckets have no `int8Codes`: their codes are ST's int8 codes.
    const formula =
      header.int8Codes === undefined
        ? 'trunc'
        : headerField.choice(header, 'int8Codes', path, ['floor', 'trunc'] as const);
    index.codeFormula = formula;
    index.middles = int8BucketMiddles(formula);
    const raw = sections.get('ranges');
    if (raw !== undefined) {
      const both = sectionFloat32(raw, path);
      if (both.length !== 2 * index.dim) {
        throw new InputFormatError(
          `corrupt int8 index: section 'ranges' holds ${both.length} values, expected 2 x dim = ${2 * index.dim}`,
          path,
        );
      }
      for (let j = 0; j < index.dim; j++) {
        if (
          !Number.isFinite(both[j]) ||
          !Number.isFinite(both[index.dim + j]) ||
          both[j] > both[index.dim + j]
        ) {
          throw new InputFormatError(
            `corrupt int8 index: calibration range of dimension ${j} is [${both[j]}, ${both[index.dim + j]}]`,
            path,
          );
        }
      }
      index.setRanges({ min: both.subarray(0, index.dim), max: both.subarray(index.dim) });
    } else if (headerField.int(header, 'size', path, 0) > 0) {
      throw new InputFormatError('corrupt int8 index: codes without ranges', path);
    }
    index.restore(header, sections, path);
    return index;
  }
}

const INT8_OPTION_KEYS = optionKeys<Int8IndexOptions>({
  dim: true,
  metric: true,
  rescoreMultiplier: true,
  keepVectors: true,
  truncateDim: true,
  ranges: true,
  calibration: true,
});
