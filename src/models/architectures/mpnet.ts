import { BERT_DEFAULTS, layerRenamer, parseBertFamilyConfig, withoutAddedFields } from './bert.js';
import type { BertConfig, BertFamilySpec } from './bert.js';
import { InputFormatError } from '../../errors.js';

/**
 * MPNet (`model_type` `mpnet`, HF `MPNetModel`): BERT's post-LayerNorm block plus a relative-position bias
 * added to every layer's attention scores (one `[relative_attention_num_buckets, heads]` table shared by all
 * layers, T5-style buckets), RoBERTa-style position ids, no token types.
 */

/** MPNet's module paths inside a layer and BERT's for the same modules. */
const MODULES: Record<string, string> = {
  'attention.attn.q': 'attention.self.query',
  'attention.attn.k': 'attention.self.key',
  'attention.attn.v': 'attention.self.value',
  'attention.attn.o': 'attention.output.dense',
  'attention.LayerNorm': 'attention.output.LayerNorm',
};
const BACK = Object.fromEntries(Object.entries(MODULES).map(([a, b]) => [b, a]));

export const MPNET_SPEC: BertFamilySpec = {
  name: 'MPNet',
  architecture: 'MPNetModel',
  prefixes: ['mpnet.'],
  positions: 'padding-offset',
  tokenTypes: false,
  pooler: true,
  toCanonical: layerRenamer('encoder.layer.', 'encoder.layer.', MODULES),
  fromCanonical: layerRenamer('encoder.layer.', 'encoder.layer.', BACK),
  // MPNetConfig has no token types and no position_embedding_type.
  hfConfig: (config) => withoutAddedFields(config, ['type_vocab_size', 'position_embedding_type']),
  relativeAttentionBuckets: (config) => config.relative_attention_num_buckets as number,
};

/** HF `MPNetConfig` defaults. */
const DEFAULTS = {
  ...BERT_DEFAULTS,
  vocab_size: 30527,
  max_position_embeddings: 514,
  layer_norm_eps: 1e-12,
  relative_attention_num_buckets: 32,
  pad_token_id: 1,
  bos_token_id: 0,
  eos_token_id: 2,
  type_vocab_size: 1,
};

/**
 * Validate an MPNet `config.json`.
 *
 * @example
 * ```ts
 * const config = parseMpnetConfig({ model_type: 'mpnet', hidden_size: 768 }, 'config.json');
 * ```
 */
export function parseMpnetConfig(json: unknown, file?: string): BertConfig {
  const config = parseBertFamilyConfig(json, file, ['mpnet'], DEFAULTS);
  const buckets = config.relative_attention_num_buckets;
  if (typeof buckets !== 'number' || !Number.isInteger(buckets) || buckets < 4) {
    throw new InputFormatError(
      `"relative_attention_num_buckets" must be an integer >= 4, got ${JSON.stringify(buckets)}`,
      file,
    );
  }
  return config;
}
