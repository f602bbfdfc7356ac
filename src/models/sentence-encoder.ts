import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModel } from '../checkpoint/load.js';
import type { LoadModelOptions } from '../checkpoint/load.js';
import { writeModelDir } from '../checkpoint/model-dir.js';
import type { SaveOptions } from '../checkpoint/model-dir.js';
import { writeSafetensors } from '../checkpoint/safetensors.js';
import { writeSentenceTransformersFiles } from '../checkpoint/sentence-transformers.js';
import type { StSimilarity } from '../checkpoint/sentence-transformers.js';
import { ArgumentError, InputFormatError, NonFiniteError } from '../errors.js';
import { BUNDLED_TOKENIZERS, TextTokenizer } from '../tokenize/tokenizer.js';
import type { Matrix } from '../types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { createProgress } from '../util/progress.js';
import { BertModel, checkScratchSize, parseBertConfig } from './bert.js';
import { l2Normalize, pool, POOLING_MODES } from './pooling.js';
import { quantizeEmbeddings } from '../util/quantize.js';
import type { Precision, QuantizedEmbeddings, QuantizeOptions } from '../util/quantize.js';
import { checkTruncateDim, truncateEmbeddings } from '../util/truncate.js';
import type { PoolingMode } from './pooling.js';
import { ensureBackend } from '../backend/index.js';

/**
 * Options of {@link SentenceEncoder.encode}. Unknown keys are an `ArgumentError` (from plain JavaScript a
 * misspelt option would otherwise be ignored). sentence-transformers' `encode()` names map as:
 * `batch_size` -> `batchSize`, `show_progress_bar` -> `showProgressBar` (alias of `progress`),
 * `normalize_embeddings` -> `normalizeEmbeddings` (alias of `normalize`).
 */
export interface EncodeOptions {
  /** Texts per forward pass; default 32. */
  batchSize?: number;
  /** Draw a progress bar (on a TTY only); default true. */
  progress?: boolean;
  /** sentence-transformers' name of `progress`. */
  showProgressBar?: boolean;
  /** Print nothing (overrides `progress`). */
  quiet?: boolean;
  /** Truncate texts to this many tokens instead of the encoder's `maxSeqLength`. */
  maxLength?: number;
  /**
   * Matryoshka truncation (sentence-transformers' `truncate_dim`): keep the first `truncateDim`
   * dimensions of each embedding, re-normalised when the encoder normalises. Smaller vectors and
   * indexes, at the quality the model's Matryoshka training kept at that size. Default: all dimensions.
   */
  truncateDim?: number;
  /**
   * L2-normalise every vector (unit length; a zero vector stays zero). Default false. A model with a
   * Normalize module (`encoder.normalize`) normalises whatever this says, as in sentence-transformers.
   */
  normalize?: boolean;
  /** sentence-transformers' name of `normalize`. */
  normalizeEmbeddings?: boolean;
  /**
   * Refuse a NaN or infinite embedding with a {@link NonFiniteError} naming the text (default true); false
   * returns such rows as they are, e.g. to inspect a broken checkpoint.
   */
  checkFinite?: boolean;
}

const ENCODE_OPTION_KEYS = optionKeys<EncodeOptions>({
  batchSize: true,
  progress: true,
  showProgressBar: true,
  quiet: true,
  maxLength: true,
  truncateDim: true,
  normalize: true,
  normalizeEmbeddings: true,
  checkFinite: true,
});

/** `a ?? b`, but two different explicit values of one option under two names are an error. */
function alias(names: [string, string], a: boolean | undefined, b: boolean | undefined): boolean | undefined {
  if (a !== undefined && b !== undefined && a !== b) {
    throw new ArgumentError(names[1], `contradicts ${names[0]} (${String(a)} vs ${String(b)}); give one`);
  }
  return a ?? b;
}

/**
 * Throw a {@link NonFiniteError} for the first row of `values` (`rows.length` x `dim`) holding a NaN or
 * infinity; `rows[j]` is the input index of row `j` and `texts` the inputs, quoted in the message.
 *
 * @example
 * ```ts
 * assertFiniteRows(new Float32Array([1, NaN]), [7], 2, texts); // NonFiniteError: ... text 7 ...
 * ```
 */
export function assertFiniteRows(values: Float32Array, rows: number[], dim: number, texts: string[]): void {
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) continue;
    const j = Math.floor(i / dim);
    const row = rows[j];
    const text = texts[row] ?? '';
    const quoted = JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text);
    throw new NonFiniteError(
      `the embedding of text ${row} (${quoted}) has ${values[i]} at dimension ${i - j * dim}: ` +
        "the model's weights (or its config) produce non-finite values; check the checkpoint for NaN/Infinity",
      row,
    );
  }
}

/** What a {@link SentenceEncoder} is built from. */
export interface SentenceEncoderInit {
  bert: BertModel;
  tokenizer: TextTokenizer;
  pooling: PoolingMode;
  normalize: boolean;
  /** Texts are truncated to this many tokens (special tokens included). */
  maxSeqLength: number;
  /**
   * The similarity the model was trained for (sentence-transformers' `similarity_fn_name`); saved with the
   * model. Undefined when unknown.
   */
  similarity?: StSimilarity;
}

const INIT_KEYS = optionKeys<SentenceEncoderInit>({
  bert: true,
  tokenizer: true,
  pooling: true,
  normalize: true,
  maxSeqLength: true,
  similarity: true,
});

const FROM_SCRATCH_KEYS = optionKeys<FromScratchOptions>({
  pooling: true,
  normalize: true,
  maxSeqLength: true,
  seed: true,
});

/** Options of {@link SentenceEncoder.fromScratch}. */
export interface FromScratchOptions {
  /** Default `mean`, as a new sentence-transformers model. */
  pooling?: PoolingMode;
  /** Default false. */
  normalize?: boolean;
  /** Default: the smaller of max_position_embeddings and the tokenizer's model_max_length. */
  maxSeqLength?: number;
  /** Seed of the random initialisation. */
  seed?: number;
}

function checkInit(init: SentenceEncoderInit): void {
  if (!(POOLING_MODES as readonly string[]).includes(init.pooling)) {
    throw new ArgumentError(
      'pooling',
      `must be one of ${POOLING_MODES.join(', ')}, got '${String(init.pooling)}'`,
    );
  }
  const maxPos = init.bert.config.max_position_embeddings;
  if (!Number.isInteger(init.maxSeqLength) || init.maxSeqLength < 3 || init.maxSeqLength > maxPos) {
    throw new ArgumentError(
      'maxSeqLength',
      `must be an integer in [3, ${maxPos}] (max_position_embeddings), got ${init.maxSeqLength}`,
    );
  }
  if (init.tokenizer.vocabSize > init.bert.config.vocab_size) {
    throw new ArgumentError(
      'tokenizer',
      `has ${init.tokenizer.vocabSize} token ids but the model's vocab_size is ${init.bert.config.vocab_size}; ` +
        'tokenizer and model do not belong together',
    );
  }
}

/**
 * A bi-encoder text tower: tokenizer + BERT + pooling (+ L2 normalisation), the equivalent of a
 * sentence-transformers `SentenceTransformer` built from Transformer, Pooling and Normalize modules.
 *
 * @example
 * ```ts
 * import { initBackend, SentenceEncoder } from 'dense-retrieval';
 *
 * await initBackend();
 * const encoder = await SentenceEncoder.load('sentence-transformers/all-MiniLM-L6-v2'); // mean + normalize
 * const { data, rows, cols } = await encoder.encode(['what is dense retrieval?', 'BM25 is sparse.']);
 * encoder.dispose();
 * ```
 */
export class SentenceEncoder {
  readonly bert: BertModel;
  readonly tokenizer: TextTokenizer;
  readonly pooling: PoolingMode;
  readonly normalize: boolean;
  readonly maxSeqLength: number;
  /** The similarity the model was trained for (`similarity_fn_name`), when known. */
  readonly similarity: StSimilarity | undefined;

  constructor(init: SentenceEncoderInit) {
    checkOptionKeys('SentenceEncoder', init, INIT_KEYS);
    checkInit(init);
    this.bert = init.bert;
    this.tokenizer = init.tokenizer;
    this.pooling = init.pooling;
    this.normalize = init.normalize;
    this.maxSeqLength = init.maxSeqLength;
    this.similarity = init.similarity;
  }

  /** Width of the sentence vectors. */
  get dim(): number {
    return this.bert.config.hidden_size;
  }

  /**
   * Load a model directory or hub id; the same as {@link loadModel}. Pooling, normalisation and
   * max_seq_length default to the checkpoint's sentence-transformers files.
   */
  static async load(source: string, options: LoadModelOptions = {}): Promise<SentenceEncoder> {
    return loadModel(source, options);
  }

  /**
   * A randomly initialised encoder from a BERT `config.json` and a tokenizer directory (default: the bundled
   * bert-base-uncased tokenizer).
   *
   * @example
   * ```ts
   * const encoder = await SentenceEncoder.fromScratch('tiny-bert/config.json', undefined, { seed: 1 });
   * ```
   */
  static async fromScratch(
    configFile: string,
    tokenizerDir: string = BUNDLED_TOKENIZERS.bertBaseUncased,
    options: FromScratchOptions = {},
  ): Promise<SentenceEncoder> {
    checkOptionKeys('fromScratch', options, FROM_SCRATCH_KEYS);
    await ensureBackend();
    let raw: string;
    try {
      raw = await fs.readFile(configFile, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new InputFormatError(
        code === 'ENOENT' ? 'config.json not found' : `cannot read (${code})`,
        configFile,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (error) {
      throw new InputFormatError(`invalid JSON (${(error as Error).message})`, configFile);
    }
    const config = parseBertConfig(json, configFile);
    checkScratchSize(config, configFile);
    const tokenizer = await TextTokenizer.fromDirectory(tokenizerDir);
    const maxSeqLength =
      options.maxSeqLength ?? Math.min(config.max_position_embeddings, tokenizer.modelMaxLength ?? Infinity);
    const bert = BertModel.random(config, options.seed);
    try {
      return new SentenceEncoder({
        bert,
        tokenizer,
        pooling: options.pooling ?? 'mean',
        normalize: options.normalize ?? false,
        maxSeqLength,
      });
    } catch (error) {
      bert.dispose();
      throw error;
    }
  }

  /**
   * Tokenize and embed `texts` -> `[n, dim]`, differentiably: call it inside `tf.variableGrads` to train.
   * With `training`, dropout is on; the same `dropoutSeed` gives the same dropout masks (gradient caching
   * recomputes a forward pass and relies on it).
   */
  embed(
    texts: string[],
    options: { training?: boolean; dropoutSeed?: number; maxLength?: number } = {},
  ): tf.Tensor2D {
    if (texts.length === 0) throw new ArgumentError('texts', 'is empty');
    const batch = this.tokenizer.encodeBatch(texts, { maxLength: options.maxLength ?? this.maxSeqLength });
    const shape: [number, number] = [batch.batchSize, batch.seqLen];
    return tf.tidy(() => {
      const inputIds = tf.tensor2d(batch.inputIds, shape, 'int32');
      const attentionMask = tf.tensor2d(batch.attentionMask, shape, 'int32');
      const tokenTypeIds = tf.tensor2d(batch.tokenTypeIds, shape, 'int32');
      const hidden = this.bert.forward(
        { inputIds, attentionMask, tokenTypeIds },
        { training: options.training, dropoutSeed: options.dropoutSeed },
      );
      const pooled = pool(hidden, attentionMask, this.pooling);
      return this.normalize ? l2Normalize(pooled) : pooled;
    });
  }

  /**
   * Embed many texts for inference: texts are sorted by token length so batches carry little padding, then
   * put back in input order. Returns a row-major float32 `[texts.length, dim]` matrix; with `precision`
   * (sentence-transformers' `encode(..., precision=...)`), the quantized codes of that matrix instead,
   * from {@link quantizeEmbeddings} (int8/uint8 ranges from `quantize.ranges` / `quantize.calibration`,
   * else from these embeddings, as ST does).
   *
   * @example
   * ```ts
   * const m = await encoder.encode(corpus.map((d) => `${d.title} ${d.text}`), { batchSize: 64 });
   * const firstVector = m.data.subarray(0, m.cols);
   * const bits = await encoder.encode(texts, { precision: 'ubinary' }); // bits.data: Uint8Array
   * ```
   */
  async encode(texts: string[], options?: EncodeOptions & { precision?: 'float32' }): Promise<Matrix>;
  async encode(
    texts: string[],
    options: EncodeOptions & { precision: Precision; quantize?: QuantizeOptions },
  ): Promise<QuantizedEmbeddings>;
  async encode(
    texts: string[],
    options: EncodeOptions & { precision?: Precision | 'float32'; quantize?: QuantizeOptions } = {},
  ): Promise<Matrix | QuantizedEmbeddings> {
    checkOptionKeys('encode', options, [...ENCODE_OPTION_KEYS, 'precision', 'quantize']);
    const { precision: _p, quantize: _q, ...floatOptions } = options;
    const m = await this.encodeFloat(texts, floatOptions);
    const precision = options.precision ?? 'float32';
    return precision === 'float32' ? m : quantizeEmbeddings(m, precision, options.quantize);
  }

  private async encodeFloat(texts: string[], options: EncodeOptions): Promise<Matrix> {
    await ensureBackend();
    if (!Array.isArray(texts)) throw new ArgumentError('texts', 'expected an array of strings');
    checkOptionKeys('encode', options, ENCODE_OPTION_KEYS);
    const progressOn = alias(['progress', 'showProgressBar'], options.progress, options.showProgressBar);
    const normalize = alias(
      ['normalize', 'normalizeEmbeddings'],
      options.normalize,
      options.normalizeEmbeddings,
    );
    const batchSize = options.batchSize ?? 32;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new ArgumentError('batchSize', `must be a positive integer, got ${batchSize}`);
    }
    const maxLength = options.maxLength ?? this.maxSeqLength;
    if (
      !Number.isInteger(maxLength) ||
      maxLength < 3 ||
      maxLength > this.bert.config.max_position_embeddings
    ) {
      throw new ArgumentError(
        'maxLength',
        `must be an integer in [3, ${this.bert.config.max_position_embeddings}] (max_position_embeddings), got ${maxLength}`,
      );
    }
    if (options.truncateDim !== undefined) checkTruncateDim(options.truncateDim, this.dim);
    const bad = texts.findIndex((t) => typeof t !== 'string');
    if (bad >= 0) throw new ArgumentError('texts', `element ${bad} is not a string`);
    const dim = this.dim;
    const out = new Float32Array(texts.length * dim);
    // Longest first, as sentence-transformers does: the slowest batches come first, so the ETA is honest.
    const lengths = texts.map((t) => this.tokenizer.tokenLength(t, { maxLength }));
    const order = texts.map((_, i) => i).sort((a, b) => lengths[b] - lengths[a] || a - b);
    const progress = createProgress({
      total: texts.length,
      label: 'encode',
      unit: 'texts',
      quiet: options.quiet === true || progressOn === false,
    });
    try {
      for (let start = 0; start < order.length; start += batchSize) {
        const idx = order.slice(start, start + batchSize);
        const vectors = this.embed(
          idx.map((i) => texts[i]),
          { maxLength },
        );
        const values = (await vectors.data()) as Float32Array;
        vectors.dispose();
        if (options.checkFinite !== false) assertFiniteRows(values, idx, dim, texts);
        idx.forEach((row, j) => out.set(values.subarray(j * dim, (j + 1) * dim), row * dim));
        progress.tick(idx.length);
      }
    } finally {
      progress.done();
    }
    if (normalize === true && !this.normalize) normalizeRows(out, dim);
    const full = { data: out, rows: texts.length, cols: dim };
    return options.truncateDim === undefined
      ? full
      : truncateEmbeddings(full, options.truncateDim, this.normalize || normalize === true);
  }

  /** The parameters an optimizer updates (all BERT weights). */
  trainableVariables(): tf.Variable[] {
    return [...this.bert.variables().values()];
  }

  /**
   * Save in the sentence-transformers layout (loadable by `SentenceTransformer(dir)` in Python and by
   * {@link loadModel}): config.json, model.safetensors (F32), tokenizer files, modules.json,
   * sentence_bert_config.json, 1_Pooling/config.json, 2_Normalize/ when normalizing,
   * config_sentence_transformers.json, and `dense_retrieval_manifest.json` (size and sha256 of each file,
   * checked on load, so a save killed midway is refused rather than loaded as a mix of two models).
   * Other files in `dir` are kept unless `options.overwrite` is `'replace'` (see {@link writeModelDir}).
   *
   * @example
   * ```ts
   * await encoder.save('runs/my-retriever'); // keeps runs/my-retriever/train_log.jsonl
   * await encoder.save('runs/fresh', { overwrite: 'replace' }); // the directory holds only the model
   * ```
   */
  async save(dir: string, options: SaveOptions = {}): Promise<void> {
    const config: Record<string, unknown> = { architectures: ['BertModel'], ...this.bert.config };
    const tensors = this.bert.hfTensors();
    await writeModelDir(
      dir,
      async (tmp) => {
        await writeFileAtomic(path.join(tmp, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
        // transformers refuses safetensors files without format metadata.
        await writeSafetensors(path.join(tmp, 'model.safetensors'), tensors, { format: 'pt' });
        await this.tokenizer.save(tmp);
        await writeSentenceTransformersFiles(tmp, {
          pooling: this.pooling,
          normalize: this.normalize,
          maxSeqLength: this.maxSeqLength,
          dimension: this.dim,
          similarity: this.similarity,
        });
      },
      options,
    );
  }

  /** Free the model's tensors. */
  dispose(): void {
    this.bert.dispose();
  }
}

/** L2-normalise each `dim`-wide row of `data` in place, as `torch.nn.functional.normalize` (eps 1e-12). */
function normalizeRows(data: Float32Array, dim: number): void {
  for (let o = 0; o < data.length; o += dim) {
    let sum = 0;
    for (let j = 0; j < dim; j++) sum += data[o + j] * data[o + j];
    const scale = 1 / Math.max(Math.sqrt(sum), 1e-12);
    for (let j = 0; j < dim; j++) data[o + j] *= scale;
  }
}
