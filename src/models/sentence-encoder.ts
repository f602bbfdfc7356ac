import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { pickHubOptions, resolveModelSource } from '../checkpoint/hub.js';
import { verifyModelDir, writeModelDir } from '../checkpoint/model-dir.js';
import type { SaveOptions } from '../checkpoint/model-dir.js';
import { writeSafetensors } from '../checkpoint/safetensors.js';
import { scratchConfigFile, SCRATCH_PREFIX } from '../checkpoint/scratch.js';
import {
  poolingConfig,
  readSentenceTransformersLayout,
  writeSentenceTransformersFiles,
} from '../checkpoint/sentence-transformers.js';
import type { StSimilarity } from '../checkpoint/sentence-transformers.js';
import { ArgumentError, InputFormatError, NonFiniteError } from '../errors.js';
import { BUNDLED_TOKENIZERS, TextTokenizer } from '../tokenize/tokenizer.js';
import type { Matrix } from '../types.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { createProgress } from '../util/progress.js';
import type { TransformerEncoder } from './architectures/encoder.js';
import { checkScratchEncoderSize, parseEncoderConfig, randomEncoder } from './architectures/registry.js';
import { DenseModule } from './modules/dense.js';
import { l2Normalize, pool, POOLING_MODES } from './pooling.js';
import { quantizeEmbeddings } from '../util/quantize.js';
import type { Precision, QuantizedEmbeddings, QuantizeOptions } from '../util/quantize.js';
import { checkTruncateDim, truncateEmbeddings } from '../util/truncate.js';
import type { PoolingMode } from './pooling.js';
import { LOAD_MODEL_KEYS, loadTransformer } from './transformer-loader.js';
import type { LoadModelOptions } from './transformer-loader.js';
import { ensureBackend } from '../backend/index.js';
import { EngineSlot } from '../engines/select.js';
import type { EngineChoice, EngineName, TokenBatch } from '../engines/types.js';

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
  /** Text prepended to every input (e5: `"query: "`); overrides `promptName` and the default prompt. */
  prompt?: string;
  /** Name of one of the model's {@link SentenceEncoder.prompts}; default its `defaultPromptName`. */
  promptName?: string;
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
  /**
   * Where inference runs: `onnx` (ONNX Runtime on the encoder's current weights, exported in memory; needs
   * the optional peer `onnxruntime-node`), `tfjs` (the encoder's TensorFlow.js forward pass), or `auto`:
   * ONNX Runtime when installed and the model exports, else tfjs. Default: {@link SentenceEncoder.engine},
   * else `$DENSE_RETRIEVAL_ENGINE`, else `auto`. Both give the same vectors within 1e-4 (see docs/deploy.md).
   */
  engine?: EngineChoice;
}

const ENCODE_OPTION_KEYS = optionKeys<EncodeOptions>({
  batchSize: true,
  progress: true,
  showProgressBar: true,
  quiet: true,
  maxLength: true,
  prompt: true,
  promptName: true,
  truncateDim: true,
  normalize: true,
  normalizeEmbeddings: true,
  checkFinite: true,
  engine: true,
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

/** Options of {@link SentenceEncoder.embed}. */
export interface EmbedOptions {
  /** Apply dropout (default false). */
  training?: boolean;
  /** Seed of the dropout masks. */
  dropoutSeed?: number;
  /** Truncate texts to this many tokens instead of `maxSeqLength`. */
  maxLength?: number;
  /** Text prepended to every input; with `includePrompt: false` its tokens are left out of pooling. */
  prompt?: string;
}

/** What a {@link SentenceEncoder} is built from. */
export interface SentenceEncoderInit {
  /** The token encoder (any architecture of the registry). */
  model?: TransformerEncoder;
  /** @deprecated The old name of `model`. */
  bert?: TransformerEncoder;
  tokenizer: TextTokenizer;
  pooling: PoolingMode;
  normalize: boolean;
  /** Texts are truncated to this many tokens (special tokens included). */
  maxSeqLength: number;
  /** Named prompts (config_sentence_transformers.json `prompts`); default none. */
  prompts?: Record<string, string>;
  /** The prompt `encode` applies when given none (`default_prompt_name`); must name one of `prompts`. */
  defaultPromptName?: string;
  /** Whether prompt tokens count in pooling (the Pooling module's `include_prompt`); default true. */
  includePrompt?: boolean;
  /** Dense modules applied after pooling, in order (the encoder owns and disposes them). */
  dense?: DenseModule[];
  /**
   * The similarity the model was trained for (sentence-transformers' `similarity_fn_name`); saved with the
   * model. Undefined when unknown.
   */
  similarity?: StSimilarity;
  /**
   * Default Matryoshka width of {@link SentenceEncoder.encode} (sentence-transformers' `truncate_dim`,
   * saved in config_sentence_transformers.json); an explicit `truncateDim` option overrides it.
   */
  truncateDim?: number;
}

const INIT_KEYS = optionKeys<SentenceEncoderInit>({
  truncateDim: true,
  model: true,
  bert: true,
  tokenizer: true,
  pooling: true,
  normalize: true,
  maxSeqLength: true,
  prompts: true,
  defaultPromptName: true,
  includePrompt: true,
  dense: true,
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

function checkInit(init: SentenceEncoderInit): TransformerEncoder {
  const model = init.model ?? init.bert;
  if (model === undefined) throw new ArgumentError('model', 'is required');
  if (!(POOLING_MODES as readonly string[]).includes(init.pooling)) {
    throw new ArgumentError(
      'pooling',
      `must be one of ${POOLING_MODES.join(', ')}, got '${String(init.pooling)}'`,
    );
  }
  const maxPos = model.maxSequenceLength;
  if (!Number.isInteger(init.maxSeqLength) || init.maxSeqLength < 3 || init.maxSeqLength > maxPos) {
    throw new ArgumentError(
      'maxSeqLength',
      `must be an integer in [3, ${maxPos}] (max_position_embeddings), got ${init.maxSeqLength}`,
    );
  }
  if (init.tokenizer.vocabSize > model.config.vocab_size) {
    throw new ArgumentError(
      'tokenizer',
      `has ${init.tokenizer.vocabSize} token ids but the model's vocab_size is ${model.config.vocab_size}; ` +
        'tokenizer and model do not belong together',
    );
  }
  if (init.prompts !== undefined) {
    for (const [name, text] of Object.entries(init.prompts)) {
      if (typeof text !== 'string') throw new ArgumentError('prompts', `prompt '${name}' is not a string`);
    }
  }
  if (init.defaultPromptName !== undefined && !(init.defaultPromptName in (init.prompts ?? {}))) {
    throw new ArgumentError(
      'defaultPromptName',
      `'${init.defaultPromptName}' is not one of the prompts (${Object.keys(init.prompts ?? {}).join(', ') || 'none'})`,
    );
  }
  return model;
}

/** Prompt names {@link SentenceEncoder.encodeDocument} tries, in order (sentence-transformers v5). */
const DOCUMENT_PROMPTS = ['document', 'passage', 'corpus'];

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
  /** The token encoder (BERT, RoBERTa, XLM-RoBERTa, DistilBERT or MPNet). */
  readonly model: TransformerEncoder;
  readonly tokenizer: TextTokenizer;
  readonly pooling: PoolingMode;
  readonly normalize: boolean;
  readonly maxSeqLength: number;
  /** Named prompts, as in config_sentence_transformers.json (e5: `{ query: 'query: ', document: 'passage: ' }`). */
  readonly prompts: Readonly<Record<string, string>>;
  /** The prompt {@link SentenceEncoder.encode} applies when given none. */
  readonly defaultPromptName: string | undefined;
  /** Whether prompt tokens count in pooling (false: sentence-transformers' `include_prompt: false`). */
  readonly includePrompt: boolean;
  /** The Dense modules between pooling and normalisation. */
  readonly dense: readonly DenseModule[];
  /** The similarity the model was trained for (`similarity_fn_name`), when known. */
  readonly similarity: StSimilarity | undefined;
  /**
   * The engine {@link SentenceEncoder.encode} uses when its options name none; undefined:
   * `$DENSE_RETRIEVAL_ENGINE`, else `auto`. Training never uses it (it runs on tfjs).
   */
  engine: EngineChoice | undefined;
  private readonly engines = new EngineSlot(this);
  /**
   * The width {@link SentenceEncoder.encode} truncates to when not told otherwise (`truncate_dim`), or
   * `undefined` for all dimensions. Saved and loaded with the model.
   */
  readonly truncateDim: number | undefined;

  constructor(init: SentenceEncoderInit) {
    checkOptionKeys('SentenceEncoder', init, INIT_KEYS);
    this.model = checkInit(init);
    this.prompts = { ...(init.prompts ?? {}) };
    this.defaultPromptName = init.defaultPromptName;
    this.includePrompt = init.includePrompt ?? true;
    this.dense = [...(init.dense ?? [])];
    let width = this.model.hiddenSize;
    for (const [i, d] of this.dense.entries()) {
      if (d.inFeatures !== width) {
        throw new ArgumentError('dense', `module ${i} takes ${d.inFeatures} features but receives ${width}`);
      }
      width = d.outFeatures;
    }
    this.tokenizer = init.tokenizer;
    this.pooling = init.pooling;
    this.normalize = init.normalize;
    this.maxSeqLength = init.maxSeqLength;
    this.similarity = init.similarity;
    this.truncateDim =
      init.truncateDim === undefined ? undefined : checkTruncateDim(init.truncateDim, this.dim);
  }

  /** Width of the sentence vectors. */
  get dim(): number {
    return this.dense.length === 0 ? this.model.hiddenSize : this.dense[this.dense.length - 1].outFeatures;
  }

  /** @deprecated The old name of {@link SentenceEncoder.model}, kept for existing callers. */
  get bert(): TransformerEncoder {
    return this.model;
  }

  /**
   * Load a local directory, a Hugging Face hub id (downloaded into the cache), or `scratch:<config.json>`
   * (random init with the bundled tokenizer); the same as {@link loadModel}. The architecture comes from
   * config.json's `model_type` (see docs/models.md); pooling, normalisation and max_seq_length from the
   * checkpoint's sentence-transformers files. A plain checkpoint gets what sentence-transformers gives it
   * (mean pooling, no normalisation), and that choice is logged.
   *
   * @throws {InputFormatError} naming the file, for an unsupported `model_type` or module, or bad weights.
   * @example
   * ```ts
   * const encoder = await SentenceEncoder.load('sentence-transformers/all-mpnet-base-v2');
   * encoder.model.config.model_type; // 'mpnet'
   * ```
   */
  static async load(source: string, options: LoadModelOptions = {}): Promise<SentenceEncoder> {
    checkOptionKeys('loadModel', options, LOAD_MODEL_KEYS);
    await ensureBackend();
    const log =
      options.log ??
      ((m: string) => (options.quiet ? undefined : process.stderr.write(`dense-retrieval: ${m}\n`)));
    if (typeof source === 'string' && source.startsWith(SCRATCH_PREFIX)) {
      const { pooling, normalize, maxSeqLength, seed } = options;
      return SentenceEncoder.fromScratch(scratchConfigFile(source), options.tokenizerDir, {
        pooling,
        normalize,
        maxSeqLength,
        seed,
      });
    }
    const dir = await resolveModelSource(source, pickHubOptions(options));
    await verifyModelDir(dir);
    const layout = await readSentenceTransformersLayout(dir, options.route);
    const transformerDir = layout?.transformerDir ?? dir;
    const model = await loadTransformer(transformerDir);
    const dense: DenseModule[] = [];
    try {
      for (const d of layout?.denseDirs ?? []) dense.push(await DenseModule.load(d));
      const tokenizer = await TextTokenizer.fromDirectory(transformerDir);
      let pooling: PoolingMode;
      let normalize: boolean;
      if (layout === undefined) {
        pooling = options.pooling ?? 'mean';
        normalize = options.normalize ?? false;
        if (options.pooling === undefined || options.normalize === undefined) {
          log(
            `${source} has no sentence-transformers modules.json: using ${pooling} pooling` +
              `${normalize ? ' with' : ' without'} normalization (as sentence-transformers does for a plain checkpoint)`,
          );
        }
      } else {
        pooling = options.pooling ?? layout.pooling;
        normalize = options.normalize ?? layout.normalize;
        if (pooling !== layout.pooling)
          log(`${source} was trained with ${layout.pooling} pooling; using ${pooling} as requested`);
        if (normalize !== layout.normalize) {
          log(
            `${source} ${layout.normalize ? 'normalizes' : 'does not normalize'} embeddings; overriding as requested`,
          );
        }
      }
      const maxPos = model.maxSequenceLength;
      // A checkpoint's own limit is capped at what the position table holds; an explicit override is not, so
      // that an impossible request is an error rather than silently shortened.
      const fromCheckpoint = Math.min(maxPos, layout?.maxSeqLength ?? tokenizer.modelMaxLength ?? maxPos);
      const maxSeqLength = options.maxSeqLength ?? fromCheckpoint;
      return new SentenceEncoder({
        model,
        tokenizer,
        pooling,
        normalize,
        maxSeqLength,
        prompts: layout?.prompts,
        defaultPromptName: layout?.defaultPromptName,
        includePrompt: layout?.includePrompt,
        dense,
        similarity: layout?.similarity,
        truncateDim: layout?.truncateDim,
      });
    } catch (error) {
      model.dispose();
      for (const d of dense) d.dispose();
      throw error;
    }
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
    const config = parseEncoderConfig(json, configFile);
    checkScratchEncoderSize(config, configFile);
    const tokenizer = await TextTokenizer.fromDirectory(tokenizerDir);
    const model = randomEncoder(config, options.seed);
    const maxSeqLength =
      options.maxSeqLength ?? Math.min(model.maxSequenceLength, tokenizer.modelMaxLength ?? Infinity);
    try {
      return new SentenceEncoder({
        model,
        tokenizer,
        pooling: options.pooling ?? 'mean',
        normalize: options.normalize ?? false,
        maxSeqLength,
      });
    } catch (error) {
      model.dispose();
      throw error;
    }
  }

  /**
   * Tokenize and embed `texts` -> `[n, dim]`, differentiably: call it inside `tf.variableGrads` to train.
   * With `training`, dropout is on; the same `dropoutSeed` gives the same dropout masks (gradient caching
   * recomputes a forward pass and relies on it).
   */
  embed(texts: string[], options: EmbedOptions = {}): tf.Tensor2D {
    if (texts.length === 0) throw new ArgumentError('texts', 'is empty');
    const batch = this.tokenBatch(texts, options.maxLength ?? this.maxSeqLength, options.prompt ?? '');
    return this.embedTokens(batch, options);
  }

  /** Tokenize `texts` with `prompt` prepended, and the mask pooling uses (see {@link TokenBatch}). */
  private tokenBatch(texts: string[], maxLength: number, prompt: string): TokenBatch {
    if (typeof prompt !== 'string') throw new ArgumentError('prompt', 'must be a string');
    const batch = this.tokenizer.encodeBatch(prompt === '' ? texts : texts.map((t) => prompt + t), {
      maxLength,
    });
    let poolMask = batch.attentionMask;
    if (prompt !== '' && !this.includePrompt) {
      // sentence-transformers' prompt_length: the prompt tokenized alone, less its closing special token;
      // those first positions (the opening special token included) are left out of pooling only.
      const promptLength = Math.min(this.tokenizer.tokenLength(prompt, { maxLength }) - 1, batch.seqLen);
      poolMask = batch.attentionMask.slice();
      for (let r = 0; r < batch.batchSize; r++)
        poolMask.fill(0, r * batch.seqLen, r * batch.seqLen + promptLength);
    }
    return { ...batch, poolMask };
  }

  /**
   * `[batch, dim]` sentence embeddings of a tokenized batch on tfjs (the tfjs engine; differentiable).
   * The caller owns the result.
   */
  embedTokens(batch: TokenBatch, options: Pick<EmbedOptions, 'training' | 'dropoutSeed'> = {}): tf.Tensor2D {
    const shape: [number, number] = [batch.batchSize, batch.seqLen];
    return tf.tidy(() => {
      const inputIds = tf.tensor2d(batch.inputIds, shape, 'int32');
      const attentionMask = tf.tensor2d(batch.attentionMask, shape, 'int32');
      const tokenTypeIds = tf.tensor2d(batch.tokenTypeIds, shape, 'int32');
      const hidden = this.model.forward(
        { inputIds, attentionMask, tokenTypeIds },
        { training: options.training, dropoutSeed: options.dropoutSeed },
      );
      const poolMask =
        batch.poolMask === batch.attentionMask ? attentionMask : tf.tensor2d(batch.poolMask, shape, 'int32');
      return this.headFromHidden(hidden, poolMask);
    });
  }

  /**
   * Pooling, Dense modules and Normalize on a last hidden state `[batch, seq, hidden]` with the pooling
   * mask `[batch, seq]` -> `[batch, dim]`. The caller owns the result.
   */
  headFromHidden(hidden: tf.Tensor3D, poolMask: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      let pooled = pool(hidden, poolMask, this.pooling);
      for (const d of this.dense) pooled = d.apply(pooled);
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
    const maxPos = this.model.maxSequenceLength;
    if (!Number.isInteger(maxLength) || maxLength < 3 || maxLength > maxPos) {
      throw new ArgumentError(
        'maxLength',
        `must be an integer in [3, ${maxPos}] (max_position_embeddings), got ${maxLength}`,
      );
    }
    const truncateDim = options.truncateDim ?? this.truncateDim;
    if (truncateDim !== undefined) checkTruncateDim(truncateDim, this.dim);
    const bad = texts.findIndex((t) => typeof t !== 'string');
    if (bad >= 0) throw new ArgumentError('texts', `element ${bad} is not a string`);
    const prompt = this.resolvePrompt(options);
    const engine = await this.engines.resolve(options.engine ?? this.engine);
    const dim = this.dim;
    const out = new Float32Array(texts.length * dim);
    // Longest first, as sentence-transformers does: the slowest batches come first, so the ETA is honest.
    const lengths = texts.map((t) => this.tokenizer.tokenLength(prompt + t, { maxLength }));
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
        const values = await engine.embed(
          this.tokenBatch(
            idx.map((i) => texts[i]),
            maxLength,
            prompt,
          ),
        );
        if (options.checkFinite !== false) assertFiniteRows(values, idx, dim, texts);
        idx.forEach((row, j) => out.set(values.subarray(j * dim, (j + 1) * dim), row * dim));
        progress.tick(idx.length);
      }
    } finally {
      progress.done();
    }
    if (normalize === true && !this.normalize) normalizeRows(out, dim);
    const full = { data: out, rows: texts.length, cols: dim };
    return truncateDim === undefined
      ? full
      : truncateEmbeddings(full, truncateDim, this.normalize || normalize === true);
  }

  /**
   * The engine `encode` runs on for `choice` (default {@link SentenceEncoder.engine}, else
   * `$DENSE_RETRIEVAL_ENGINE`, else `auto`): opens the ONNX Runtime session of the current weights when that
   * is the answer, so the next `encode` starts at once.
   *
   * @throws {BackendError} `onnx` without onnxruntime-node; {@link ArgumentError} `onnx` for a model that
   *   does not export, or an unknown choice.
   * @example
   * ```ts
   * await encoder.resolveEngine(); // 'onnx' where onnxruntime-node is installed, else 'tfjs'
   * ```
   */
  async resolveEngine(choice?: EngineChoice): Promise<EngineName> {
    return (await this.engines.resolve(choice ?? this.engine)).name;
  }

  /**
   * {@link SentenceEncoder.encode} with the model's `query` prompt (when it has one), as
   * sentence-transformers v5's `encode_query`.
   *
   * @example
   * ```ts
   * const q = await e5.encodeQuery(['how do vaccines work']); // embeds "query: how do vaccines work"
   * ```
   */
  encodeQuery(texts: string[], options: EncodeOptions = {}): Promise<Matrix> {
    const named = 'query' in this.prompts ? { promptName: 'query' } : {};
    return this.encode(texts, { ...named, ...options });
  }

  /**
   * {@link SentenceEncoder.encode} with the model's `document`, `passage` or `corpus` prompt (the first it
   * has), as sentence-transformers v5's `encode_document`.
   *
   * @example
   * ```ts
   * const d = await e5.encodeDocument(['Vaccines train the immune system ...']); // "passage: Vaccines ..."
   * ```
   */
  encodeDocument(texts: string[], options: EncodeOptions = {}): Promise<Matrix> {
    const name = DOCUMENT_PROMPTS.find((n) => n in this.prompts);
    return this.encode(texts, { ...(name === undefined ? {} : { promptName: name }), ...options });
  }

  /** The prompt text `encode` applies: `prompt`, else the named prompt, else the default one, else none. */
  private resolvePrompt(options: EncodeOptions): string {
    if (options.prompt !== undefined) {
      if (typeof options.prompt !== 'string') throw new ArgumentError('prompt', 'must be a string');
      return options.prompt;
    }
    const name = options.promptName ?? this.defaultPromptName;
    if (name === undefined) return '';
    const text = this.prompts[name];
    if (text === undefined) {
      throw new ArgumentError(
        'promptName',
        `'${name}' is not one of this model's prompts (${Object.keys(this.prompts).join(', ') || 'none'})`,
      );
    }
    return text;
  }

  /** The parameters an optimizer updates (all trainable transformer weights). */
  trainableVariables(): tf.Variable[] {
    return [...this.model.variables().values(), ...this.dense.flatMap((d) => d.variables())];
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
    // Every module file (Dense folders included) is written inside writeModelDir, so the manifest covers it.
    await writeModelDir(dir, (tmp) => this.writeModelFiles(tmp), options);
  }

  /**
   * Write the files {@link SentenceEncoder.save} writes (without the manifest) into `dir`, a staging
   * directory of {@link writeModelDir}: for savers that add files to the same atomic write (`exportOnnx`).
   *
   * @example
   * ```ts
   * await writeModelDir('out', async (tmp) => { await encoder.writeModelFiles(tmp); });
   * ```
   */
  async writeModelFiles(dir: string): Promise<void> {
    const config = this.model.hfConfig();
    const tensors = this.model.hfTensors();
    await writeFileAtomic(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    // transformers refuses safetensors files without format metadata.
    await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
    await this.tokenizer.save(dir);
    await writeSentenceTransformersFiles(dir, {
      pooling: this.pooling,
      normalize: this.normalize,
      maxSeqLength: this.maxSeqLength,
      dimension: this.dim,
      includePrompt: this.includePrompt,
      prompts: this.prompts,
      defaultPromptName: this.defaultPromptName,
      dense: this.dense.length,
      similarity: this.similarity,
      truncateDim: this.truncateDim,
    });
    for (const [i, d] of this.dense.entries()) {
      const folder = path.join(dir, `${2 + i}_Dense`);
      await fs.mkdir(folder, { recursive: true });
      await d.save(folder);
    }
  }

  /**
   * Write this encoder as one route of a sentence-transformers `Router` model into `dir` (which the caller
   * writes atomically): `<route>_0_Transformer/` (config.json, model.safetensors, tokenizer files,
   * sentence_bert_config.json), `<route>_1_Pooling/config.json` and `<route>_2_Normalize/` when normalizing,
   * as `Router.save` lays them out. Returns the module ids and their types for router_config.json.
   *
   * @example
   * ```ts
   * const modules = await encoder.saveRouteModules(tmp, 'query'); // { query_0_Transformer: '...', ... }
   * ```
   */
  async saveRouteModules(dir: string, route: string): Promise<Record<string, string>> {
    const transformer = path.join(dir, `${route}_0_Transformer`);
    await fs.mkdir(transformer, { recursive: true });
    await writeFileAtomic(
      path.join(transformer, 'config.json'),
      `${JSON.stringify(this.model.hfConfig(), null, 2)}\n`,
    );
    await writeSafetensors(path.join(transformer, 'model.safetensors'), this.model.hfTensors(), {
      format: 'pt',
    });
    await this.tokenizer.save(transformer);
    await writeFileAtomic(
      path.join(transformer, 'sentence_bert_config.json'),
      `${JSON.stringify({ max_seq_length: this.maxSeqLength, do_lower_case: false }, null, 2)}\n`,
    );
    const settings = {
      pooling: this.pooling,
      normalize: this.normalize,
      maxSeqLength: this.maxSeqLength,
      dimension: this.dim,
      includePrompt: this.includePrompt,
    };
    await writeFileAtomic(
      path.join(dir, `${route}_1_Pooling`, 'config.json'),
      `${JSON.stringify(poolingConfig(settings), null, 2)}\n`,
    );
    const types: Record<string, string> = {
      [`${route}_0_Transformer`]: 'sentence_transformers.models.Transformer.Transformer',
      [`${route}_1_Pooling`]: 'sentence_transformers.models.Pooling.Pooling',
    };
    for (const [i, d] of this.dense.entries()) {
      const id = `${route}_${2 + i}_Dense`;
      await fs.mkdir(path.join(dir, id), { recursive: true });
      await d.save(path.join(dir, id));
      types[id] = 'sentence_transformers.models.Dense.Dense';
    }
    if (this.normalize) {
      const id = `${route}_${2 + this.dense.length}_Normalize`;
      await fs.mkdir(path.join(dir, id), { recursive: true });
      types[id] = 'sentence_transformers.models.Normalize.Normalize';
    }
    return types;
  }

  /** Free the model's tensors (and the ONNX Runtime session of the `onnx` engine, if one was opened). */
  dispose(): void {
    this.engines.dispose();
    this.model.dispose();
    for (const d of this.dense) d.dispose();
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
