import type * as tf from '@tensorflow/tfjs';
import { InputFormatError } from '../../errors.js';
import {
  BERT_SPEC,
  BERT_TRAINING_MEMORY,
  bertFamilyMaxLength,
  BertModel,
  checkFamilyLayers,
  checkScratchSize,
  parseBertConfig,
} from './bert.js';
import type { BertConfig, BertFamilySpec } from './bert.js';
import { DISTILBERT_SPEC, parseDistilBertConfig } from './distilbert.js';
import type { EncoderConfig, TrainingMemoryProfile, TransformerEncoder } from './encoder.js';
import {
  checkModernBertLayers,
  checkModernBertScratchSize,
  MODERNBERT_TRAINING_MEMORY,
  modernBertParameterCount,
  ModernBertModel,
  parseModernBertConfig,
} from './modernbert.js';
import type { ModernBertConfig } from './modernbert.js';
import { MPNET_SPEC, parseMpnetConfig } from './mpnet.js';
import { parseRobertaConfig, ROBERTA_SPEC, XLM_ROBERTA_SPEC } from './roberta.js';

/**
 * The architectures this library runs, keyed by `config.json`'s `model_type`. Adding one is adding an entry:
 * nothing else in the library branches on the model type.
 */
export interface Architecture {
  /** Validate a parsed `config.json` and fill the architecture's HF defaults; errors name `file`. */
  parseConfig(json: unknown, file?: string): EncoderConfig;
  /** A randomly initialised encoder (HF initialisation); the same seed gives the same weights. */
  random(config: EncoderConfig, seed?: number): TransformerEncoder;
  /** An encoder from checkpoint tensors (HF names, with or without the model prefix); copies them. */
  fromWeights(config: EncoderConfig, weights: Map<string, tf.Tensor>, file?: string): TransformerEncoder;
  /** The longest input (special tokens included) a config's position table holds. */
  maxSequenceLength(config: EncoderConfig): number;
  /** Refuse a config too large to initialise randomly (an {@link InputFormatError} naming `file`). */
  checkScratchSize(config: EncoderConfig, file?: string): void;
  /**
   * Refuse a config asking for more layers than the checkpoint tensors `names` hold (an
   * {@link InputFormatError} naming `file`, the config.json), before any shape table is built.
   */
  checkLayers(config: EncoderConfig, names: Iterable<string>, file?: string): void;
  /** Trainable parameters of a config (without a pooler), computed without allocating. */
  parameterCount(config: EncoderConfig): number;
  /** What a training step keeps per token, for the wasm memory guard. */
  trainingMemory: TrainingMemoryProfile;
}

/**
 * Parameters of the BERT family's encoders (embeddings and post-LN layers, no pooler); the few extra of
 * MPNet's relative-attention bias table are left out (buckets x heads, a few hundred).
 */
function bertFamilyParameterCount(c: EncoderConfig, spec: BertFamilySpec): number {
  const h = c.hidden_size;
  const i = c.intermediate_size;
  const types = spec.tokenTypes && typeof c.type_vocab_size === 'number' ? c.type_vocab_size : 0;
  const embeddings = (c.vocab_size + c.max_position_embeddings + types + 2) * h;
  const layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h;
  return embeddings + c.num_hidden_layers * layer;
}

function bertFamily(parse: (json: unknown, file?: string) => BertConfig, spec: BertFamilySpec): Architecture {
  return {
    parseConfig: parse,
    random: (config, seed) => BertModel.random(config as BertConfig, seed, spec),
    fromWeights: (config, weights, file) => BertModel.fromWeights(config as BertConfig, weights, file, spec),
    maxSequenceLength: (config) => bertFamilyMaxLength(config as BertConfig, spec),
    checkScratchSize: (config, file) => checkScratchSize(config as BertConfig, file),
    checkLayers: (config, names, file) => checkFamilyLayers(config as BertConfig, names, file, spec),
    parameterCount: (config) => bertFamilyParameterCount(config, spec),
    trainingMemory: BERT_TRAINING_MEMORY,
  };
}

const ARCHITECTURES: ReadonlyMap<string, Architecture> = new Map([
  ['bert', bertFamily(parseBertConfig, BERT_SPEC)],
  ['roberta', bertFamily(parseRobertaConfig, ROBERTA_SPEC)],
  ['xlm-roberta', bertFamily(parseRobertaConfig, XLM_ROBERTA_SPEC)],
  ['distilbert', bertFamily(parseDistilBertConfig, DISTILBERT_SPEC)],
  ['mpnet', bertFamily(parseMpnetConfig, MPNET_SPEC)],
  [
    'modernbert',
    {
      parseConfig: parseModernBertConfig,
      random: (config, seed) => ModernBertModel.random(config as ModernBertConfig, seed),
      fromWeights: (config, weights, file) =>
        ModernBertModel.fromWeights(config as ModernBertConfig, weights, file),
      maxSequenceLength: (config) => config.max_position_embeddings,
      checkScratchSize: (config, file) => checkModernBertScratchSize(config as ModernBertConfig, file),
      checkLayers: (config, names, file) => checkModernBertLayers(config as ModernBertConfig, names, file),
      parameterCount: (config) => modernBertParameterCount(config as ModernBertConfig),
      trainingMemory: MODERNBERT_TRAINING_MEMORY,
    },
  ],
]);

/** Every `model_type` {@link parseEncoderConfig} accepts. */
export const SUPPORTED_MODEL_TYPES: readonly string[] = [...ARCHITECTURES.keys()];

/**
 * The architecture of a `model_type`; an unknown or missing one is an {@link InputFormatError} naming `file`
 * and the supported types.
 *
 * @example
 * ```ts
 * const arch = architectureFor('roberta', 'model/config.json');
 * ```
 */
export function architectureFor(modelType: unknown, file?: string): Architecture {
  const supported = SUPPORTED_MODEL_TYPES.join(', ');
  if (modelType === undefined)
    throw new InputFormatError(`missing "model_type" (supported: ${supported})`, file);
  const arch = typeof modelType === 'string' ? ARCHITECTURES.get(modelType) : undefined;
  if (arch === undefined) {
    throw new InputFormatError(
      `unsupported model_type ${JSON.stringify(modelType)}; supported: ${supported}`,
      file,
    );
  }
  return arch;
}

/**
 * Validate any supported `config.json` (dispatching on `model_type`).
 *
 * @example
 * ```ts
 * const config = parseEncoderConfig(JSON.parse(await readFile('m/config.json', 'utf8')), 'm/config.json');
 * ```
 */
export function parseEncoderConfig(json: unknown, file?: string): EncoderConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new InputFormatError('config must be a JSON object', file);
  }
  return architectureFor((json as Record<string, unknown>).model_type, file).parseConfig(json, file);
}

/**
 * A randomly initialised encoder of a parsed config's architecture.
 *
 * @example
 * ```ts
 * const model = randomEncoder(parseEncoderConfig({ model_type: 'mpnet', hidden_size: 32, ... }), 7);
 * ```
 */
export function randomEncoder(config: EncoderConfig, seed?: number): TransformerEncoder {
  return architectureFor(config.model_type).random(config, seed);
}

/**
 * Refuse a parsed config whose random initialisation would be too large (see `MAX_SCRATCH_PARAMETERS`).
 *
 * @throws {InputFormatError} naming the field and `file`.
 * @example
 * ```ts
 * checkScratchEncoderSize(parseEncoderConfig(json, 'tiny.json'), 'tiny.json');
 * ```
 */
export function checkScratchEncoderSize(config: EncoderConfig, file?: string): void {
  architectureFor(config.model_type, file).checkScratchSize(config, file);
}

/**
 * An encoder of a parsed config's architecture from checkpoint tensors; errors name `file`.
 *
 * @example
 * ```ts
 * const model = encoderFromWeights(config, tensors, 'model/model.safetensors');
 * ```
 */
export function encoderFromWeights(
  config: EncoderConfig,
  weights: Map<string, tf.Tensor>,
  file?: string,
): TransformerEncoder {
  return architectureFor(config.model_type, file).fromWeights(config, weights, file);
}
