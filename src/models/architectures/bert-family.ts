import { InputFormatError } from '../../errors.js';
import { SUPPORTED_ACTIVATIONS } from '../layers.js';
import type { Activation } from '../layers.js';
import type { EncoderForwardOptions, EncoderInputs } from './encoder.js';

/**
 * The BERT family's configuration and what distinguishes its members (RoBERTa, XLM-RoBERTa, DistilBERT,
 * MPNet): config parsing, weight-name mapping, position-id and attention-bias rules. The model that runs
 * them all is `BertModel` (bert.ts).
 */

/** A BERT configuration with Hugging Face `config.json` field names (also the shape RoBERTa, DistilBERT and
 * MPNet configs are parsed into). */
export interface BertConfig {
  model_type: string;
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: Activation;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  initializer_range: number;
  pad_token_id: number;
  /** Only `absolute` is supported (what every BERT checkpoint we target uses). */
  position_embedding_type: 'absolute';
  /** Other fields of the original `config.json`, kept so a saved config round-trips. */
  [extra: string]: unknown;
}

/** HF `BertConfig` defaults, used for fields a `config.json` leaves out. */
export const BERT_DEFAULTS = {
  vocab_size: 30522,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu',
  max_position_embeddings: 512,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  initializer_range: 0.02,
  pad_token_id: 0,
  position_embedding_type: 'absolute',
} as const;

/** The integer fields of a BERT-family config.json (validated as positive integers). */
export const INT_FIELDS = [
  'vocab_size',
  'hidden_size',
  'num_hidden_layers',
  'num_attention_heads',
  'intermediate_size',
  'max_position_embeddings',
  'type_vocab_size',
] as const;

/**
 * Validate a parsed `config.json` and fill HF defaults. Errors name `file` and the field at fault.
 *
 * @example
 * ```ts
 * const config = parseBertConfig(JSON.parse(await readFile('model/config.json', 'utf8')), 'model/config.json');
 * ```
 */
export function parseBertConfig(json: unknown, file?: string): BertConfig {
  return parseBertFamilyConfig(json, file, ['bert'], BERT_DEFAULTS);
}

// The fields each parsed config's file had: saving drops BERT fields an architecture's config does not have.
const FILE_KEYS = new WeakMap<object, Set<string>>();

/**
 * `config` without the fields in `keys` that its file did not have (fields BERT's parser filled in that the
 * architecture's HF config class does not know).
 */
export function withoutAddedFields(config: BertConfig, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  const given = FILE_KEYS.get(config);
  for (const key of keys) if (given !== undefined && !given.has(key)) delete out[key];
  return out;
}

/**
 * Rename the tensors of one encoder layer between two naming schemes: `encoder.layer.3.attention.self.query.weight`
 * <-> `transformer.layer.3.attention.q_lin.weight` with `modules` mapping whole module paths (not substrings,
 * which would rename `output.dense` inside `attention.output.dense`).
 */
export function layerRenamer(
  fromLayers: string,
  toLayers: string,
  modules: Readonly<Record<string, string>>,
): (name: string) => string {
  return (name) => {
    if (!name.startsWith(fromLayers)) return name;
    const rest = name.slice(fromLayers.length);
    const dot = rest.indexOf('.');
    const lastDot = rest.lastIndexOf('.');
    if (dot < 0 || lastDot <= dot) return name;
    const module = rest.slice(dot + 1, lastDot);
    const mapped = modules[module];
    return mapped === undefined ? name : `${toLayers}${rest.slice(0, dot)}.${mapped}${rest.slice(lastDot)}`;
  };
}

/**
 * {@link parseBertConfig} for any `model_type` of `modelTypes`, with that architecture's HF defaults.
 *
 * @example
 * ```ts
 * parseBertFamilyConfig(json, 'config.json', ['roberta'], { ...BERT_DEFAULTS, pad_token_id: 1 });
 * ```
 */
export function parseBertFamilyConfig(
  json: unknown,
  file: string | undefined,
  modelTypes: readonly string[],
  defaults: Record<string, unknown>,
): BertConfig {
  const fail = (message: string): never => {
    throw new InputFormatError(message, file);
  };
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail('config must be a JSON object');
  const raw = json as Record<string, unknown>;
  const modelType = raw.model_type;
  if (modelType === undefined) fail(`missing "model_type" (supported: ${modelTypes.join(', ')})`);
  if (!(modelTypes as readonly unknown[]).includes(modelType)) {
    fail(`unsupported model_type ${JSON.stringify(modelType)}; supported: ${modelTypes.join(', ')}`);
  }
  const config = { ...defaults, ...raw } as Record<string, unknown>;
  FILE_KEYS.set(config, new Set(Object.keys(raw)));
  for (const key of INT_FIELDS) {
    const v = config[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      fail(`"${key}" must be a positive integer, got ${JSON.stringify(v)}`);
    }
  }
  if (typeof config.pad_token_id !== 'number' || !Number.isInteger(config.pad_token_id)) {
    // Some configs set pad_token_id null: pad with the architecture's default id.
    config.pad_token_id = defaults.pad_token_id;
  }
  for (const key of ['layer_norm_eps', 'initializer_range'] as const) {
    const v = config[key];
    if (typeof v !== 'number' || !(v > 0))
      fail(`"${key}" must be a positive number, got ${JSON.stringify(v)}`);
  }
  for (const key of ['hidden_dropout_prob', 'attention_probs_dropout_prob'] as const) {
    const v = config[key];
    if (typeof v !== 'number' || !(v >= 0 && v < 1))
      fail(`"${key}" must be in [0, 1), got ${JSON.stringify(v)}`);
  }
  if (!(SUPPORTED_ACTIVATIONS as readonly unknown[]).includes(config.hidden_act)) {
    fail(
      `unsupported hidden_act ${JSON.stringify(config.hidden_act)}; supported: ${SUPPORTED_ACTIVATIONS.join(', ')}`,
    );
  }
  if (config.position_embedding_type !== 'absolute') {
    fail(
      `unsupported position_embedding_type ${JSON.stringify(config.position_embedding_type)}; supported: absolute`,
    );
  }
  const hidden = config.hidden_size as number;
  const heads = config.num_attention_heads as number;
  if (hidden % heads !== 0) {
    fail(`hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
  }
  return config as BertConfig;
}

/** Inputs of {@link BertModel.forward}, each `[batch, seq]` int32. */
export type BertInputs = EncoderInputs;

export type BertForwardOptions = EncoderForwardOptions;

/**
 * How a BERT-family architecture differs from BERT. RoBERTa, XLM-RoBERTa, DistilBERT and MPNet run BERT's
 * post-LayerNorm block unchanged; they differ only in embeddings, weight names and (MPNet) an attention bias.
 */
export interface BertFamilySpec {
  /** The architecture's name in messages ("BERT", "RoBERTa", ...). */
  name: string;
  /** Class name written to `architectures` in a saved config.json. */
  architecture: string;
  /** Model prefixes checkpoint tensor names may carry (`bert.`, `roberta.`, ...). */
  prefixes: readonly string[];
  /**
   * `absolute`: position `i` for token `i`. `padding-offset`: HF `create_position_ids_from_input_ids`,
   * non-pad tokens numbered from `pad_token_id + 1`, pad tokens at `pad_token_id`.
   */
  positions: 'absolute' | 'padding-offset';
  /** Whether the embeddings add a token-type (segment) table. */
  tokenTypes: boolean;
  /** Whether a randomly initialised model gets a pooler (kept only so HF loads the checkpoint quietly). */
  pooler: boolean;
  /** A checkpoint tensor name (prefix stripped) -> BERT's name for the same tensor; default identity. */
  toCanonical?: (name: string) => string;
  /** BERT's name -> the architecture's checkpoint name (for saving); default identity. */
  fromCanonical?: (name: string) => string;
  /** MPNet: number of relative-attention buckets (`relative_attention_num_buckets`); default none. */
  relativeAttentionBuckets?: (config: BertConfig) => number | undefined;
  /** DistilBERT: whether positions are fixed sinusoids (`sinusoidal_pos_embds`), not trained. */
  sinusoidalPositions?: (config: BertConfig) => boolean;
  /** The config.json to save (HF field names); default the config itself. */
  hfConfig?: (config: BertConfig) => Record<string, unknown>;
}

/** The longest input a config's position table holds under `spec`'s position ids. */
export function bertFamilyMaxLength(config: BertConfig, spec: BertFamilySpec): number {
  return spec.positions === 'padding-offset'
    ? config.max_position_embeddings - config.pad_token_id - 1
    : config.max_position_embeddings;
}

/** BERT itself. */
export const BERT_SPEC: BertFamilySpec = {
  name: 'BERT',
  architecture: 'BertModel',
  prefixes: ['bert.'],
  positions: 'absolute',
  tokenTypes: true,
  pooler: true,
};

/** The name of MPNet's shared relative-position bias table (`[buckets, heads]`). */
export const RELATIVE_BIAS = 'encoder.relative_attention_bias.weight';

/**
 * HF's `create_sinusoidal_embeddings` (DistilBERT): `sin(pos / 10000^(2 floor(j/2) / dim))` at even `j`,
 * `cos` of the same at odd `j`.
 */
export function sinusoids(rows: number, dim: number): Float32Array {
  const out = new Float32Array(rows * dim);
  for (let pos = 0; pos < rows; pos++) {
    for (let j = 0; j < dim; j++) {
      const angle = pos / Math.pow(10000, (2 * Math.floor(j / 2)) / dim);
      out[pos * dim + j] = j % 2 === 0 ? Math.sin(angle) : Math.cos(angle);
    }
  }
  return out;
}

/**
 * MPNet's bucket of a relative position `rel = key - query` (HF `MPNetEncoder.relative_position_bucket`,
 * `max_distance` 128): half the buckets per direction, exact below `buckets / 4`, log-spaced above. The log
 * runs in float32 as in torch (`n.float()`), so that the bucket edges match.
 */
export function relativePositionBucket(rel: number, numBuckets: number, maxDistance = 128): number {
  const half = Math.floor(numBuckets / 2);
  let n = -rel;
  let ret = n < 0 ? half : 0;
  n = Math.abs(n);
  const maxExact = Math.floor(half / 2);
  if (n < maxExact) return ret + n;
  const f = Math.fround;
  const ratio = f(f(Math.log(f(f(n) / maxExact))) / f(Math.log(maxDistance / maxExact)));
  const large = maxExact + Math.trunc(f(ratio * (half - maxExact)));
  ret += Math.min(large, half - 1);
  return ret;
}
