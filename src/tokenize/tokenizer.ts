import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ArgumentError, InputFormatError } from '../errors.js';
import type { DenseRetrievalError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { packageRoot } from '../util/package.js';
import { bertFixesFor, fixBertText } from './bert-normalizer-fixes.js';
import type { BertFixes } from './bert-normalizer-fixes.js';

/**
 * The text tokenizer of a text encoder: a thin layer over `@huggingface/tokenizers` (the pure-JS port of
 * Hugging Face tokenizers) that adds what that library leaves out and a bi-encoder needs: truncation that
 * keeps the special tokens, padding to the longest text of a batch, flat `Int32Array` batches ready for a
 * tensor, and saving in the layout Hugging Face and sentence-transformers load.
 */

/** A padded batch of token ids, row-major `[batchSize, seqLen]`, ready to become `int32` tensors. */
export interface EncodedBatch {
  /** Token ids; padding positions hold {@link TextTokenizer.padTokenId}. */
  inputIds: Int32Array;
  /** 1 for real tokens (special tokens included), 0 for padding. */
  attentionMask: Int32Array;
  /** Segment ids: 0 for a single text; 0/1 for the two texts of a pair; 0 on padding. */
  tokenTypeIds: Int32Array;
  batchSize: number;
  /** Length of the longest encoded text of the batch (0 for an empty batch). */
  seqLen: number;
}

/** Options of {@link TextTokenizer.encodeBatch} and {@link TextTokenizer.tokenLength}. */
export interface TokenizeOptions {
  /**
   * Maximum number of ids per text, special tokens included; longer texts lose their last tokens, and the
   * closing special token (e.g. `[SEP]`) stays last. Default: the tokenizer's `model_max_length`, else 512.
   */
  maxLength?: number;
}

/** `model_max_length` values at or above this are Hugging Face's "no limit" sentinel (int(1e30)). */
const NO_LIMIT = 1e9;
const DEFAULT_MAX_LENGTH = 512;
/** Distinct words whose WordPiece split is remembered; a corpus vocabulary of this size fits (~10 MB). */
const WORD_CACHE_SIZE = 100_000;
const SENTINEL_A = '\u0000dense-retrieval-sequence-a\u0000';
const SENTINEL_B = '\u0000dense-retrieval-sequence-b\u0000';
const SPECIAL_KEYS = [
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
  'bos_token',
  'eos_token',
] as const;

type JsonObject = Record<string, unknown>;

/** Where the special tokens of a template go, as ids, and the segment id of each part. */
interface Template {
  prefix: number[];
  middle: number[];
  suffix: number[];
  prefixTypes: number[];
  middleTypes: number[];
  suffixTypes: number[];
  typeA: number;
  typeB: number;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A special token in a tokenizer_config.json is either a string or a serialised AddedToken. */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (isObject(value) && typeof value.content === 'string') return value.content;
  return undefined;
}

/**
 * Truncation of a pair as the Rust `tokenizers` crate's `LongestFirst` strategy does it, so pairs truncate
 * exactly as in Python: returns the kept lengths of the two sequences.
 */
function longestFirst(n1: number, n2: number, budget: number): [number, number] {
  if (n1 + n2 <= budget) return [n1, n2];
  const swap = n1 > n2;
  let short = swap ? n2 : n1;
  let long = swap ? n1 : n2;
  long = short > budget ? short : Math.max(short, budget - short);
  if (short + long > budget) {
    short = Math.floor(budget / 2);
    long = short + (budget % 2);
  }
  return swap ? [long, short] : [short, long];
}

/**
 * Token ids must be integers bounded by the vocabulary's size: the tokenizers library sizes tables by
 * the largest id, so a single id of 1e9 made it allocate and loop for minutes. Gaps are tolerated (some
 * tokenizers have a few), ids far beyond the number of tokens are not.
 */
function checkTokenIds(json: JsonObject, fail: (message: string) => DenseRetrievalError): void {
  const ids = new Set<number>();
  let max = -1;
  let maxToken = '';
  const take = (token: string, id: unknown, where: string): void => {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      throw fail(
        `${where} id ${JSON.stringify(id)} of token ${JSON.stringify(token)} is not a non-negative integer`,
      );
    }
    ids.add(id);
    if (id > max) {
      max = id;
      maxToken = token;
    }
  };
  const model = json.model as JsonObject;
  if (isObject(model.vocab)) {
    for (const [token, id] of Object.entries(model.vocab as JsonObject)) take(token, id, 'vocab');
  }
  if (Array.isArray(json.added_tokens)) {
    for (const t of json.added_tokens as unknown[]) {
      const entry = t as { id?: unknown; content?: unknown } | null;
      if (entry === null || typeof entry !== 'object') throw fail('added_tokens holds a non-object entry');
      take(String(entry.content), entry.id, 'added token');
    }
  }
  if (max >= 2 * ids.size + 1000) {
    throw fail(
      `token ${JSON.stringify(maxToken)} has id ${max}, far beyond the ${ids.size} ids the vocabulary holds; ` +
        'ids must run from 0 to about the vocabulary size',
    );
  }
}

/**
 * A Hugging Face `tokenizer.json` tokenizer with batch encoding for bi-encoders.
 *
 * @example
 * ```ts
 * import { TextTokenizer, BUNDLED_TOKENIZERS } from 'dense-retrieval';
 *
 * const tokenizer = await TextTokenizer.fromDirectory(BUNDLED_TOKENIZERS.bertBaseUncased);
 * const batch = tokenizer.encodeBatch(['Hello, world!', 'A longer second text.'], { maxLength: 128 });
 * // batch.inputIds: Int32Array [101, 7592, 1010, 2088, 999, 102, 0, 1037, ...], batch.seqLen === 7
 * ```
 */
export class TextTokenizer {
  /** Size of the id space (largest id + 1, added tokens included): the embedding table must be this big. */
  readonly vocabSize: number;
  /** The id written at padding positions. */
  readonly padTokenId: number;
  /** `model_max_length` from tokenizer_config.json, or undefined when the config sets no limit. */
  readonly modelMaxLength: number | undefined;

  private readonly hf: Tokenizer;
  private readonly json: JsonObject;
  private readonly config: JsonObject;
  private readonly rawJson: string | undefined;
  private readonly single: Template;
  private readonly pair: Template;
  private readonly bertFixes: BertFixes | undefined;

  private constructor(
    json: JsonObject,
    config: JsonObject,
    rawJson: string | undefined,
    fail: (message: string) => DenseRetrievalError,
  ) {
    this.json = json;
    this.config = config;
    this.rawJson = rawJson;
    // The JS library has no truncation or padding (a tokenizer.json may carry e.g. `Fixed: 128` padding);
    // both are done here, per batch, so they are dropped from what the library sees.
    const forLibrary = { ...json, truncation: null, padding: null, added_tokens: json.added_tokens ?? [] };
    checkTokenIds(json, fail);
    try {
      this.hf = new Tokenizer(forLibrary, config);
    } catch (error) {
      throw fail(`not a usable tokenizer.json: ${(error as Error).message}`);
    }
    if (this.isWordPiece()) cacheWordPieces(this.hf);
    this.bertFixes = bertFixesFor(json.normalizer);
    const vocab = this.hf.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
    this.single = this.template(false, fail);
    this.pair = this.template(true, fail);
    this.padTokenId = this.findPadId();
    const limit = config.model_max_length;
    this.modelMaxLength =
      typeof limit === 'number' && Number.isInteger(limit) && limit > 0 && limit < NO_LIMIT
        ? limit
        : undefined;
  }

  /**
   * Load `tokenizer.json` and, when present, `tokenizer_config.json` from a model directory.
   * A missing or malformed `tokenizer.json` is an {@link InputFormatError} naming the file.
   *
   * @example
   * ```ts
   * const tokenizer = await TextTokenizer.fromDirectory('models/all-MiniLM-L6-v2');
   * ```
   */
  static async fromDirectory(dir: string): Promise<TextTokenizer> {
    const file = path.join(dir, 'tokenizer.json');
    let raw: string;
    try {
      raw = await fs.readFile(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'file not found' : `cannot read (${code ?? (error as Error).message})`;
      throw new InputFormatError(`${why}; a tokenizer directory needs a Hugging Face tokenizer.json`, file);
    }
    const json = parseJsonObject(raw, file);
    if (!isObject(json.model))
      throw new InputFormatError('not a Hugging Face tokenizer.json (no "model" object)', file);
    const configFile = path.join(dir, 'tokenizer_config.json');
    let config: JsonObject = {};
    let configRaw: string | undefined;
    try {
      configRaw = await fs.readFile(configFile, 'utf8');
    } catch {
      configRaw = undefined; // optional: many tokenizers ship tokenizer.json only
    }
    if (configRaw !== undefined) config = parseJsonObject(configRaw, configFile);
    // Older checkpoints name their special tokens (pad_token ...) only in special_tokens_map.json, which
    // transformers reads too; tokenizer_config.json wins where both name one.
    const mapFile = path.join(dir, 'special_tokens_map.json');
    let mapRaw: string | undefined;
    try {
      mapRaw = await fs.readFile(mapFile, 'utf8');
    } catch {
      mapRaw = undefined; // optional
    }
    if (mapRaw !== undefined) config = { ...parseJsonObject(mapRaw, mapFile), ...config };
    return new TextTokenizer(json, config, raw, (message) => new InputFormatError(message, file));
  }

  /**
   * Build a tokenizer from the parsed contents of `tokenizer.json` (and `tokenizer_config.json`).
   *
   * @example
   * ```ts
   * const json = await (await fetch('https://huggingface.co/bert-base-uncased/resolve/main/tokenizer.json')).json();
   * const tokenizer = TextTokenizer.fromJSON(json, { model_max_length: 512 });
   * ```
   */
  static fromJSON(tokenizerJson: object, tokenizerConfig?: object): TextTokenizer {
    if (!isObject(tokenizerJson) || !isObject(tokenizerJson.model)) {
      throw new ArgumentError(
        'tokenizerJson',
        'expected the parsed tokenizer.json object (with a "model" key)',
      );
    }
    if (tokenizerConfig !== undefined && !isObject(tokenizerConfig)) {
      throw new ArgumentError('tokenizerConfig', 'expected the parsed tokenizer_config.json object');
    }
    return new TextTokenizer(
      tokenizerJson,
      tokenizerConfig ?? {},
      undefined,
      (message) => new ArgumentError('tokenizerJson', message),
    );
  }

  /**
   * The special tokens the post-processor puts around one text, as ids, with their token type ids: BERT
   * `{ prefix: [101], suffix: [102], suffixTypes: [0] }` (`[CLS] text [SEP]`). Truncation keeps both and cuts
   * the text between them.
   *
   * @example
   * ```ts
   * tokenizer.singleTextSpecials.suffix; // [102] for BERT, [2] for RoBERTa's </s>
   * ```
   */
  get singleTextSpecials(): { prefix: number[]; suffix: number[]; suffixTypes: number[]; textType: number } {
    const t = this.single;
    return {
      prefix: [...t.prefix],
      suffix: [...t.suffix],
      suffixTypes: [...t.suffixTypes],
      textType: t.typeA,
    };
  }

  /** Number of special tokens added around one text (2 for BERT: `[CLS]`, `[SEP]`). */
  get numSpecialTokens(): number {
    return this.single.prefix.length + this.single.suffix.length;
  }

  /**
   * Token ids of one text without special tokens and without truncation.
   *
   * @example
   * ```ts
   * tokenizer.encodeIds('Hello, world!'); // [7592, 1010, 2088, 999]
   * ```
   */
  encodeIds(text: string): number[] {
    return this.hf.encode(this.bertFixes ? fixBertText(text, this.bertFixes) : text, {
      add_special_tokens: false,
    }).ids;
  }

  /**
   * Encode texts into one padded batch: special tokens added, each text truncated to `maxLength` ids,
   * padding to the longest text of the batch.
   *
   * @example
   * ```ts
   * const { inputIds, attentionMask, seqLen } = tokenizer.encodeBatch(['a query', 'a much longer passage']);
   * ```
   */
  encodeBatch(texts: string[], options: TokenizeOptions = {}): EncodedBatch {
    checkTexts(texts, 'texts');
    return this.batchFromIds(
      texts.map((text) => this.encodeIds(text)),
      options,
    );
  }

  /**
   * The batch {@link encodeBatch} would give for texts already turned into ids by {@link encodeIds}
   * (special tokens added, truncation, padding). Lets a caller tokenize a corpus once, sort it by length
   * and batch it without tokenizing twice.
   *
   * @example
   * ```ts
   * const ids = texts.map((t) => tokenizer.encodeIds(t));
   * const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length);
   * const batch = tokenizer.batchFromIds(order.slice(0, 32).map((i) => ids[i]), { maxLength: 256 });
   * ```
   */
  batchFromIds(idRows: readonly (readonly number[])[], options: TokenizeOptions = {}): EncodedBatch {
    if (!Array.isArray(idRows)) throw new ArgumentError('idRows', 'expected an array of id arrays');
    const t = this.single;
    const specials = t.prefix.length + t.suffix.length;
    const budget = this.maxLength(options, t) - specials;
    let longest = 0;
    for (const [i, ids] of idRows.entries()) {
      if (!Array.isArray(ids)) throw new ArgumentError('idRows', `element ${i} is not an array of ids`);
      longest = Math.max(longest, Math.min(ids.length, budget));
    }
    const seqLen = idRows.length === 0 ? 0 : longest + specials;
    const out = this.allocate(idRows.length, seqLen);
    idRows.forEach((ids, row) => {
      const writer = new RowWriter(out, row * seqLen);
      writer.put(t.prefix, t.prefixTypes);
      writer.fill(ids.length > budget ? ids.slice(0, budget) : ids, t.typeA);
      writer.put(t.suffix, t.suffixTypes);
    });
    return out;
  }

  /**
   * Encode text pairs (e.g. query and passage for a cross-encoder) as `[CLS] a [SEP] b [SEP]`, with
   * token type 0 for the first text and 1 for the second, truncating the longer text first as Hugging Face
   * does (`longest_first`).
   *
   * @example
   * ```ts
   * const batch = tokenizer.encodePair(['what is bm25'], ['BM25 is a ranking function ...'], { maxLength: 256 });
   * ```
   */
  encodePair(first: string[], second: string[], options: TokenizeOptions = {}): EncodedBatch {
    checkTexts(first, 'first');
    checkTexts(second, 'second');
    if (first.length !== second.length) {
      throw new ArgumentError('second', `has ${second.length} texts but first has ${first.length}`);
    }
    const t = this.pair;
    const specials = t.prefix.length + t.middle.length + t.suffix.length;
    const budget = this.maxLength(options, t) - specials;
    const rows = first.map((a, i) => {
      const idsA = this.encodeIds(a);
      const idsB = this.encodeIds(second[i]);
      const [na, nb] = longestFirst(idsA.length, idsB.length, budget);
      return [idsA.slice(0, na), idsB.slice(0, nb)] as const;
    });
    // A loop, not Math.max(...rows): spreading 100k+ arguments overflows the stack.
    const longest = rows.reduce((m, [a, b]) => Math.max(m, a.length + b.length), 0);
    const seqLen = rows.length === 0 ? 0 : longest + specials;
    const out = this.allocate(first.length, seqLen);
    rows.forEach(([a, b], row) => {
      const writer = new RowWriter(out, row * seqLen);
      writer.put(t.prefix, t.prefixTypes);
      writer.fill(a, t.typeA);
      writer.put(t.middle, t.middleTypes);
      writer.fill(b, t.typeB);
      writer.put(t.suffix, t.suffixTypes);
    });
    return out;
  }

  /**
   * Number of ids {@link encodeBatch} gives `text`, special tokens included, after truncation; used to
   * sort texts by length so that batches carry little padding.
   *
   * @example
   * ```ts
   * tokenizer.tokenLength('Hello, world!'); // 6
   * ```
   */
  tokenLength(text: string, options: TokenizeOptions = {}): number {
    if (typeof text !== 'string') throw new ArgumentError('text', `expected a string, got ${typeof text}`);
    const t = this.single;
    const specials = t.prefix.length + t.suffix.length;
    const budget = this.maxLength(options, t) - specials;
    return Math.min(this.encodeIds(text).length, budget) + specials;
  }

  /**
   * Write `tokenizer.json`, `tokenizer_config.json`, `special_tokens_map.json` and, for WordPiece
   * vocabularies, `vocab.txt` into `dir` (created if needed; each file written atomically), in the layout
   * Hugging Face `AutoTokenizer` and sentence-transformers load.
   *
   * @example
   * ```ts
   * await tokenizer.save('my-model');
   * const again = await TextTokenizer.fromDirectory('my-model');
   * ```
   */
  async save(dir: string): Promise<void> {
    await fs.mkdir(dir, { recursive: true });
    const config = this.savedConfig();
    const specials: JsonObject = {};
    for (const key of SPECIAL_KEYS) if (config[key] !== undefined) specials[key] = config[key];
    await writeFileAtomic(path.join(dir, 'tokenizer.json'), this.rawJson ?? JSON.stringify(this.json));
    await writeFileAtomic(path.join(dir, 'tokenizer_config.json'), `${JSON.stringify(config, null, 2)}\n`);
    await writeFileAtomic(
      path.join(dir, 'special_tokens_map.json'),
      `${JSON.stringify(specials, null, 2)}\n`,
    );
    const vocabTxt = this.wordPieceVocab();
    if (vocabTxt !== undefined) await writeFileAtomic(path.join(dir, 'vocab.txt'), vocabTxt);
  }

  private maxLength(options: TokenizeOptions, t: Template): number {
    if (typeof options !== 'object' || options === null)
      throw new ArgumentError('options', 'expected an object');
    const value = options.maxLength ?? this.modelMaxLength ?? DEFAULT_MAX_LENGTH;
    const minimum = t.prefix.length + t.middle.length + t.suffix.length + 1;
    if (!Number.isInteger(value) || value < minimum) {
      throw new ArgumentError(
        'maxLength',
        `must be an integer >= ${minimum} (room for the ${minimum - 1} special tokens and one token), got ${value}`,
      );
    }
    return value;
  }

  private allocate(batchSize: number, seqLen: number): EncodedBatch {
    const inputIds = new Int32Array(batchSize * seqLen);
    if (this.padTokenId !== 0) inputIds.fill(this.padTokenId);
    return {
      inputIds,
      attentionMask: new Int32Array(batchSize * seqLen),
      tokenTypeIds: new Int32Array(batchSize * seqLen),
      batchSize,
      seqLen,
    };
  }

  /** Read the special tokens and segment ids off the post-processor by running it on placeholders. */
  private template(pair: boolean, fail: (message: string) => DenseRetrievalError): Template {
    const post = this.hf.post_processor;
    const a = [SENTINEL_A];
    const b = pair ? [SENTINEL_B] : null;
    const out: { tokens: string[]; token_type_ids?: number[] } = post
      ? post(a, b, true)
      : { tokens: b ? [...a, ...b] : a, token_type_ids: undefined };
    const tokens = out.tokens;
    const types = out.token_type_ids ?? tokens.map((tok: string) => (tok === SENTINEL_B ? 1 : 0));
    const ia = tokens.indexOf(SENTINEL_A);
    const ib = pair ? tokens.indexOf(SENTINEL_B) : tokens.length;
    if (ia < 0 || ib < 0 || ib < ia) {
      throw fail('unsupported post_processor: it does not keep the texts in order');
    }
    const toIds = (list: string[]): number[] =>
      list.map((tok) => {
        const id = this.hf.token_to_id(tok);
        if (id === undefined) {
          throw fail(`special token ${JSON.stringify(tok)} of the post_processor is not in the vocabulary`);
        }
        return id;
      });
    const end = pair ? ib + 1 : ia + 1;
    return {
      prefix: toIds(tokens.slice(0, ia)),
      middle: pair ? toIds(tokens.slice(ia + 1, ib)) : [],
      suffix: toIds(tokens.slice(end)),
      prefixTypes: types.slice(0, ia),
      middleTypes: pair ? types.slice(ia + 1, ib) : [],
      suffixTypes: types.slice(end),
      typeA: types[ia] ?? 0,
      typeB: pair ? (types[ib] ?? 1) : 0,
    };
  }

  private findPadId(): number {
    const padding = this.json.padding;
    if (isObject(padding) && typeof padding.pad_id === 'number') return padding.pad_id;
    for (const token of [tokenContent(this.config.pad_token), '[PAD]', '<pad>']) {
      const id = token === undefined ? undefined : this.hf.token_to_id(token);
      if (id !== undefined) return id;
    }
    // No pad token at all (e.g. GPT-2 vocabularies): padded positions are masked out, so any id will do.
    return 0;
  }

  private isWordPiece(): boolean {
    const model = this.json.model as JsonObject;
    if (model.type !== undefined) return model.type === 'WordPiece';
    return isObject(model.vocab) && 'continuing_subword_prefix' in model && !('merges' in model);
  }

  private wordPieceVocab(): string | undefined {
    if (!this.isWordPiece()) return undefined;
    const vocab = (this.json.model as JsonObject).vocab as Record<string, number>;
    const byId: string[] = [];
    for (const [token, id] of Object.entries(vocab)) byId[id] = token;
    if (byId.length !== Object.keys(vocab).length || byId.some((t) => t === undefined)) return undefined;
    return `${byId.join('\n')}\n`;
  }

  /** tokenizer_config.json as saved: the loaded one, completed so AutoTokenizer can load it standalone. */
  private savedConfig(): JsonObject {
    const config: JsonObject = { ...this.config };
    if (config.model_max_length === undefined && this.modelMaxLength !== undefined) {
      config.model_max_length = this.modelMaxLength;
    }
    if (this.isWordPiece()) {
      const normalizer = this.json.normalizer;
      if (
        config.do_lower_case === undefined &&
        isObject(normalizer) &&
        normalizer.type === 'BertNormalizer'
      ) {
        config.do_lower_case = normalizer.lowercase !== false;
      }
      const bertTokens: Record<string, string> = {
        unk_token: '[UNK]',
        sep_token: '[SEP]',
        pad_token: '[PAD]',
        cls_token: '[CLS]',
        mask_token: '[MASK]',
      };
      for (const [key, token] of Object.entries(bertTokens)) {
        if (config[key] === undefined && this.hf.token_to_id(token) !== undefined) config[key] = token;
      }
      if (config.tokenizer_class === undefined) config.tokenizer_class = 'BertTokenizer';
    }
    return config;
  }
}

/** Writes one row of a batch left to right. */
class RowWriter {
  private pos: number;
  constructor(
    private readonly out: EncodedBatch,
    start: number,
  ) {
    this.pos = start;
  }

  put(ids: number[], types: number[]): void {
    for (let i = 0; i < ids.length; i++) this.write(ids[i], types[i]);
  }

  fill(ids: readonly number[], type: number): void {
    for (let i = 0; i < ids.length; i++) this.write(ids[i], type);
  }

  private write(id: number, type: number): void {
    this.out.inputIds[this.pos] = id;
    this.out.attentionMask[this.pos] = 1;
    this.out.tokenTypeIds[this.pos] = type;
    this.pos += 1;
  }
}

/**
 * Remember the WordPiece split of each word. The library splits every occurrence anew, which was half of
 * the encoding time on scifact; WordPiece splits words independently, so caching per word is exact.
 */
function cacheWordPieces(hf: Tokenizer): void {
  const model = hf.model as unknown as { encode(words: string[]): string[] } | null;
  if (model === null) return;
  const split = model.encode.bind(model);
  const cache = new Map<string, string[]>();
  model.encode = (words: string[]): string[] => {
    const out: string[] = [];
    for (const word of words) {
      let pieces = cache.get(word);
      if (pieces === undefined) {
        pieces = split([word]);
        if (cache.size >= WORD_CACHE_SIZE) cache.clear();
        cache.set(word, pieces);
      }
      for (const piece of pieces) out.push(piece);
    }
    return out;
  };
}

function checkTexts(texts: unknown, argument: string): asserts texts is string[] {
  if (!Array.isArray(texts)) throw new ArgumentError(argument, 'expected an array of strings');
  const bad = texts.findIndex((t) => typeof t !== 'string');
  if (bad >= 0) {
    throw new ArgumentError(
      argument,
      `element ${bad} is ${texts[bad] === null ? 'null' : typeof texts[bad]}, expected a string`,
    );
  }
}

function parseJsonObject(raw: string, file: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw new InputFormatError(`invalid JSON (${(error as Error).message})`, file);
  }
  if (!isObject(value)) throw new InputFormatError('expected a JSON object', file);
  return value;
}

/**
 * Tokenizers shipped with the package (absolute paths of their directories), for tests, demos and models
 * whose checkpoint lacks tokenizer files.
 *
 * @example
 * ```ts
 * const tokenizer = await TextTokenizer.fromDirectory(BUNDLED_TOKENIZERS.bertBaseUncased);
 * ```
 */
export const BUNDLED_TOKENIZERS: { bertBaseUncased: string } = {
  // A getter so that importing the library never fails if the package root cannot be located.
  get bertBaseUncased(): string {
    return path.join(packageRoot(), 'assets', 'tokenizers', 'bert-base-uncased');
  },
};
