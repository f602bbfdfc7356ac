import { InputFormatError } from '../../errors.js';
import { layerRenamer, parseBertFamilyConfig } from './bert.js';
import type { BertConfig, BertFamilySpec } from './bert.js';

/**
 * DistilBERT (`model_type` `distilbert`): BERT's post-LayerNorm block under other names, no token types,
 * learned or fixed sinusoidal positions (`sinusoidal_pos_embds`), config fields `dim`, `n_layers`, `n_heads`,
 * `hidden_dim`, `activation`, `dropout`, `attention_dropout` (HF `DistilBertModel`).
 */

/** DistilBERT's module paths inside a layer and BERT's for the same modules. */
const MODULES: Record<string, string> = {
  'attention.q_lin': 'attention.self.query',
  'attention.k_lin': 'attention.self.key',
  'attention.v_lin': 'attention.self.value',
  'attention.out_lin': 'attention.output.dense',
  sa_layer_norm: 'attention.output.LayerNorm',
  'ffn.lin1': 'intermediate.dense',
  'ffn.lin2': 'output.dense',
  output_layer_norm: 'output.LayerNorm',
};
const BACK = Object.fromEntries(Object.entries(MODULES).map(([a, b]) => [b, a]));

/** Fields of HF `DistilBertConfig` and the BERT field each becomes. */
const FIELD_MAP: readonly [string, string][] = [
  ['dim', 'hidden_size'],
  ['n_layers', 'num_hidden_layers'],
  ['n_heads', 'num_attention_heads'],
  ['hidden_dim', 'intermediate_size'],
  ['activation', 'hidden_act'],
  ['dropout', 'hidden_dropout_prob'],
  ['attention_dropout', 'attention_probs_dropout_prob'],
];

/** HF `DistilBertConfig` defaults. */
const DEFAULTS: Record<string, unknown> = {
  vocab_size: 30522,
  max_position_embeddings: 512,
  sinusoidal_pos_embds: false,
  n_layers: 6,
  n_heads: 12,
  dim: 768,
  hidden_dim: 3072,
  dropout: 0.1,
  attention_dropout: 0.1,
  activation: 'gelu',
  initializer_range: 0.02,
  pad_token_id: 0,
};

// The fields each parsed config's file had (the parser saw BERT's names, so it cannot record them).
const RAW_KEYS = new WeakMap<BertConfig, Set<string>>();

export const DISTILBERT_SPEC: BertFamilySpec = {
  name: 'DistilBERT',
  architecture: 'DistilBertModel',
  prefixes: ['distilbert.'],
  positions: 'absolute',
  tokenTypes: false,
  pooler: false,
  toCanonical: layerRenamer('transformer.layer.', 'encoder.layer.', MODULES),
  fromCanonical: layerRenamer('encoder.layer.', 'transformer.layer.', BACK),
  sinusoidalPositions: (config) => config.sinusoidal_pos_embds === true,
  hfConfig: (config) => {
    const out: Record<string, unknown> = { ...config };
    for (const [dist, bert] of FIELD_MAP) {
      out[dist] = config[bert];
      delete out[bert];
    }
    // Fields BERT's parser added that DistilBertConfig does not have.
    for (const key of ['type_vocab_size', 'layer_norm_eps', 'position_embedding_type']) {
      if (!RAW_KEYS.get(config)?.has(key)) delete out[key];
    }
    return out;
  },
};

/**
 * Validate a DistilBERT `config.json` and express it under BERT's field names (the original names are kept
 * and written back on save). LayerNorm eps is DistilBERT's fixed 1e-12.
 *
 * @example
 * ```ts
 * const config = parseDistilBertConfig({ model_type: 'distilbert', dim: 768, n_layers: 6 }, 'config.json');
 * config.hidden_size; // 768
 * ```
 */
export function parseDistilBertConfig(json: unknown, file?: string): BertConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new InputFormatError('config must be a JSON object', file);
  }
  const raw = json as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...DEFAULTS, ...raw };
  const mapped: Record<string, unknown> = { ...merged, layer_norm_eps: 1e-12, type_vocab_size: 1 };
  for (const [dist, bert] of FIELD_MAP) {
    mapped[bert] = merged[dist];
    delete mapped[dist];
  }
  if (typeof merged.sinusoidal_pos_embds !== 'boolean') {
    throw new InputFormatError(
      `"sinusoidal_pos_embds" must be true or false, got ${JSON.stringify(merged.sinusoidal_pos_embds)}`,
      file,
    );
  }
  const config = parseBertFamilyConfig(mapped, file, ['distilbert'], {
    position_embedding_type: 'absolute',
    pad_token_id: 0,
  });
  RAW_KEYS.set(config, new Set(Object.keys(raw)));
  return config;
}
