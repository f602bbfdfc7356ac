import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputFormatError } from '../errors.js';
import { BertModel, checkLayersAgainstWeights, parseBertConfig } from '../models/bert.js';
import type { BertConfig } from '../models/bert.js';
import type { PoolingMode } from '../models/pooling.js';
import { SentenceEncoder } from '../models/sentence-encoder.js';
import { BUNDLED_TOKENIZERS, TextTokenizer } from '../tokenize/tokenizer.js';
import { HUB_OPTION_KEYS, pickHubOptions, resolveModelSource } from './hub.js';
import type { HubOptions } from './hub.js';
import { safeRelative, verifyModelDir } from './model-dir.js';
import { readSafetensors } from './safetensors.js';
import type { SafetensorsTensor } from './safetensors.js';
import { readSentenceTransformersLayout } from './sentence-transformers.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { ensureBackend } from '../backend/index.js';
import { SCRATCH_PREFIX, scratchConfigFile } from './scratch.js';

/** Options of {@link loadModel}: hub download options plus overrides of the checkpoint's settings. */
export interface LoadModelOptions extends HubOptions {
  /** Override the checkpoint's pooling (a different choice is reported through `log`). */
  pooling?: PoolingMode;
  /** Override the checkpoint's normalisation. */
  normalize?: boolean;
  /** Override max_seq_length. */
  maxSeqLength?: number;
  /** Tokenizer directory for `scratch:` sources; default the bundled bert-base-uncased tokenizer. */
  tokenizerDir?: string;
  /** Seed for `scratch:` sources. */
  seed?: number;
  /** Where notes about chosen defaults go; default one line on stderr (nothing when `quiet`). */
  log?: (message: string) => void;
}

const LOAD_MODEL_KEYS = optionKeys<LoadModelOptions>({
  cacheDir: true,
  endpoint: true,
  revision: true,
  offline: true,
  token: true,
  quiet: true,
  files: true,
  retries: true,
  retryDelayMs: true,
  stallTimeoutMs: true,
  maxFileBytes: true,
  pooling: true,
  normalize: true,
  maxSeqLength: true,
  tokenizerDir: true,
  seed: true,
  log: true,
});

/** Prefix of a source that means "random init from this config.json". */
export { SCRATCH_PREFIX } from './scratch.js';

async function readJson(file: string, what: string): Promise<unknown> {
  let raw: string;
  try {
    raw = await fs.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputFormatError(code === 'ENOENT' ? `missing ${what}` : `cannot read ${what} (${code})`, file);
  }
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new InputFormatError(`invalid JSON (${(error as Error).message})`, file);
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/** Safetensors files of a model directory: `model.safetensors`, or the shards a sharded index lists. */
async function weightFiles(dir: string): Promise<string[]> {
  const single = path.join(dir, 'model.safetensors');
  if (await exists(single)) return [single];
  const indexFile = path.join(dir, 'model.safetensors.index.json');
  if (await exists(indexFile)) {
    const index = (await readJson(indexFile, 'safetensors index')) as { weight_map?: Record<string, string> };
    if (index === null || typeof index !== 'object' || typeof index.weight_map !== 'object') {
      throw new InputFormatError('no "weight_map" object', indexFile);
    }
    const shards = [...new Set(Object.values(index.weight_map))];
    const bad = shards.find((f) => !safeRelative(f));
    if (bad !== undefined) {
      throw new InputFormatError(
        `"weight_map" names ${JSON.stringify(bad)}, which is not a file inside the model directory`,
        indexFile,
      );
    }
    return (shards as string[]).sort().map((f) => path.join(dir, f));
  }
  const hasLegacy = await exists(path.join(dir, 'pytorch_model.bin'));
  throw new InputFormatError(
    hasLegacy
      ? 'missing model.safetensors (only pytorch_model.bin is present; convert it with ' +
          "`python -c \"from transformers import AutoModel; AutoModel.from_pretrained('DIR').save_pretrained('DIR', safe_serialization=True)\"`)"
      : 'missing model.safetensors',
    single,
  );
}

/**
 * Read config.json and the safetensors weights of a Hugging Face BERT directory into a {@link BertModel}.
 *
 * @example
 * ```ts
 * const bert = await loadBert('models/bert-base-uncased');
 * ```
 */
export async function loadBert(dir: string): Promise<BertModel> {
  await ensureBackend();
  const configFile = path.join(dir, 'config.json');
  const config: BertConfig = parseBertConfig(await readJson(configFile, 'config.json'), configFile);
  const files = await weightFiles(dir);
  const raw = new Map<string, SafetensorsTensor>();
  for (const f of files) for (const [name, t] of await readSafetensors(f)) raw.set(name, t);
  checkLayersAgainstWeights(config, raw.keys(), configFile);
  const weights = new Map<string, tf.Tensor>();
  try {
    for (const [name, t] of raw) weights.set(name, tf.tensor(t.data, t.shape, 'float32'));
    return BertModel.fromWeights(config, weights, files.length === 1 ? files[0] : dir);
  } finally {
    for (const t of weights.values()) t.dispose();
  }
}

/**
 * Load a text encoder from a local directory, a Hugging Face hub id (downloaded into the cache), or
 * `scratch:<config.json>` (random init with the bundled tokenizer). Pooling, normalisation and
 * max_seq_length come from the checkpoint's sentence-transformers files; a plain BERT checkpoint gets what
 * sentence-transformers gives it (mean pooling, no normalisation), and that choice is logged.
 *
 * @example
 * ```ts
 * import { initBackend, loadModel } from 'dense-retrieval';
 *
 * await initBackend();
 * const encoder = await loadModel('sentence-transformers/all-MiniLM-L6-v2');
 * encoder.pooling; // 'mean' (from 1_Pooling/config.json), encoder.normalize === true (2_Normalize)
 * ```
 */
export async function loadModel(source: string, options: LoadModelOptions = {}): Promise<SentenceEncoder> {
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
  const layout = await readSentenceTransformersLayout(dir);
  const transformerDir = layout?.transformerDir ?? dir;
  const bert = await loadBert(transformerDir);
  try {
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
    const maxPos = bert.config.max_position_embeddings;
    // A checkpoint's own limit is capped at what the position table holds; an explicit override is not, so
    // that an impossible request is an error rather than silently shortened.
    const fromCheckpoint = Math.min(maxPos, layout?.maxSeqLength ?? tokenizer.modelMaxLength ?? maxPos);
    const maxSeqLength = options.maxSeqLength ?? fromCheckpoint;
    return new SentenceEncoder({
      bert,
      tokenizer,
      pooling,
      normalize,
      maxSeqLength,
      similarity: layout?.similarity,
    });
  } catch (error) {
    bert.dispose();
    throw error;
  }
}

/**
 * Only the tokenizer of a model source (directory, hub id or `scratch:<config.json>`) and the sequence
 * length the encoder would use, without loading weights: for tokenizing without a backend.
 *
 * @example
 * ```ts
 * const { tokenizer, maxSeqLength } = await loadTokenizerFor('sentence-transformers/all-MiniLM-L6-v2');
 * ```
 */
export async function loadTokenizerFor(
  source: string,
  options: Pick<LoadModelOptions, keyof HubOptions | 'tokenizerDir' | 'maxSeqLength'> = {},
): Promise<{ tokenizer: TextTokenizer; maxSeqLength: number }> {
  checkOptionKeys('loadTokenizerFor', options, [...HUB_OPTION_KEYS, 'tokenizerDir', 'maxSeqLength']);
  let configFile: string;
  let tokenizerDir: string;
  let layoutMax: number | undefined;
  if (typeof source === 'string' && source.startsWith(SCRATCH_PREFIX)) {
    configFile = scratchConfigFile(source);
    tokenizerDir = options.tokenizerDir ?? BUNDLED_TOKENIZERS.bertBaseUncased;
  } else {
    const dir = await resolveModelSource(source, pickHubOptions(options));
    const layout = await readSentenceTransformersLayout(dir);
    tokenizerDir = layout?.transformerDir ?? dir;
    configFile = path.join(tokenizerDir, 'config.json');
    layoutMax = layout?.maxSeqLength;
  }
  const config = parseBertConfig(await readJson(configFile, 'config.json'), configFile);
  const tokenizer = await TextTokenizer.fromDirectory(tokenizerDir);
  const maxPos = config.max_position_embeddings;
  const maxSeqLength =
    options.maxSeqLength ?? Math.min(maxPos, layoutMax ?? tokenizer.modelMaxLength ?? maxPos);
  return { tokenizer, maxSeqLength };
}
