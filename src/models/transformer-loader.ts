import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { HUB_OPTION_KEYS, pickHubOptions, resolveModelSource } from '../checkpoint/hub.js';
import type { HubOptions } from '../checkpoint/hub.js';
import { readCheckpointTensors, readJson } from '../checkpoint/load.js';
import { SCRATCH_PREFIX, scratchConfigFile } from '../checkpoint/scratch.js';
import { readSentenceTransformersLayout } from '../checkpoint/sentence-transformers.js';
import { ensureBackend } from '../backend/index.js';
import { BUNDLED_TOKENIZERS, TextTokenizer } from '../tokenize/tokenizer.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import type { TransformerEncoder } from './architectures/encoder.js';
import { architectureFor, encoderFromWeights, parseEncoderConfig } from './architectures/registry.js';
import type { PoolingMode } from './pooling.js';

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
  /** The route of a sentence-transformers `Router` model (`query`, `document`); default its default route. */
  route?: string;
}

/** The keys of {@link LoadModelOptions}, checked at run time (a misspelt option is an ArgumentError). */
export const LOAD_MODEL_KEYS: readonly string[] = [
  ...HUB_OPTION_KEYS,
  ...optionKeys<Omit<LoadModelOptions, keyof HubOptions>>({
    pooling: true,
    normalize: true,
    maxSeqLength: true,
    tokenizerDir: true,
    seed: true,
    log: true,
    route: true,
  }),
];

/** Prefix of a source that means "random init from this config.json". */
export { SCRATCH_PREFIX } from '../checkpoint/scratch.js';

/**
 * Read config.json and the safetensors weights of a Hugging Face model directory into the encoder its
 * `model_type` names (BERT, RoBERTa, XLM-RoBERTa, DistilBERT, MPNet). F32, F16 and BF16 weights are read.
 *
 * @throws {InputFormatError} naming config.json for an unsupported `model_type`, or the weights file for
 *   missing or mis-shaped tensors.
 * @example
 * ```ts
 * const model = await loadTransformer('models/all-mpnet-base-v2');
 * model.config.model_type; // 'mpnet'
 * ```
 */
export async function loadTransformer(dir: string): Promise<TransformerEncoder> {
  await ensureBackend();
  const configFile = path.join(dir, 'config.json');
  const config = parseEncoderConfig(await readJson(configFile, 'config.json'), configFile);
  const { tensors, file } = await readCheckpointTensors(dir);
  architectureFor(config.model_type, configFile).checkLayers(config, tensors.keys(), configFile);
  const weights = new Map<string, tf.Tensor>();
  try {
    for (const [name, t] of tensors) weights.set(name, tf.tensor(t.data, t.shape, 'float32'));
    return encoderFromWeights(config, weights, file);
  } finally {
    for (const t of weights.values()) t.dispose();
  }
}

/** @deprecated The old name of {@link loadTransformer} (it now loads every supported architecture). */
export const loadBert = loadTransformer;

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
  options: Pick<LoadModelOptions, keyof HubOptions | 'tokenizerDir' | 'maxSeqLength' | 'route'> = {},
): Promise<{ tokenizer: TextTokenizer; maxSeqLength: number }> {
  checkOptionKeys('loadTokenizerFor', options, [...HUB_OPTION_KEYS, 'tokenizerDir', 'maxSeqLength', 'route']);
  let configFile: string;
  let tokenizerDir: string;
  let layoutMax: number | undefined;
  if (typeof source === 'string' && source.startsWith(SCRATCH_PREFIX)) {
    configFile = scratchConfigFile(source);
    tokenizerDir = options.tokenizerDir ?? BUNDLED_TOKENIZERS.bertBaseUncased;
  } else {
    const dir = await resolveModelSource(source, pickHubOptions(options));
    const layout = await readSentenceTransformersLayout(dir, options.route);
    tokenizerDir = layout?.transformerDir ?? dir;
    configFile = path.join(tokenizerDir, 'config.json');
    layoutMax = layout?.maxSeqLength;
  }
  const config = parseEncoderConfig(await readJson(configFile, 'config.json'), configFile);
  const tokenizer = await TextTokenizer.fromDirectory(tokenizerDir);
  const maxPos = architectureFor(config.model_type).maxSequenceLength(config);
  const maxSeqLength =
    options.maxSeqLength ?? Math.min(maxPos, layoutMax ?? tokenizer.modelMaxLength ?? maxPos);
  return { tokenizer, maxSeqLength };
}
