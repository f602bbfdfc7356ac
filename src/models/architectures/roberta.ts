import { InputFormatError } from '../../errors.js';
import { BERT_DEFAULTS, parseBertFamilyConfig } from './bert.js';
import type { BertConfig, BertFamilySpec } from './bert.js';

/**
 * RoBERTa and XLM-RoBERTa (`model_type` `roberta`, `xlm-roberta`): BERT's layers with RoBERTa's position ids
 * (HF `create_position_ids_from_input_ids`: pad tokens at `pad_token_id`, the others numbered from
 * `pad_token_id + 1`, so 514 positions hold 512 tokens) and usually one token type. Weight names are BERT's
 * under the `roberta.` prefix (XLM-R checkpoints use it too).
 */
export const ROBERTA_SPEC: BertFamilySpec = {
  name: 'RoBERTa',
  architecture: 'RobertaModel',
  prefixes: ['roberta.'],
  positions: 'padding-offset',
  tokenTypes: true,
  pooler: true,
};

/** The XLM-RoBERTa flavour: the same model, saved as `XLMRobertaModel`. */
export const XLM_ROBERTA_SPEC: BertFamilySpec = {
  ...ROBERTA_SPEC,
  name: 'XLM-RoBERTa',
  architecture: 'XLMRobertaModel',
};

/** HF `RobertaConfig` defaults (BERT's with `<pad>` id 1). */
const ROBERTA_DEFAULTS = { ...BERT_DEFAULTS, pad_token_id: 1, bos_token_id: 0, eos_token_id: 2 };

/**
 * Validate a RoBERTa / XLM-RoBERTa `config.json`.
 *
 * @example
 * ```ts
 * const config = parseRobertaConfig({ model_type: 'xlm-roberta', vocab_size: 250002, ... }, 'config.json');
 * ```
 */
export function parseRobertaConfig(json: unknown, file?: string): BertConfig {
  const config = parseBertFamilyConfig(json, file, ['roberta', 'xlm-roberta'], ROBERTA_DEFAULTS);
  if (config.max_position_embeddings <= config.pad_token_id + 1) {
    throw new InputFormatError(
      `max_position_embeddings ${config.max_position_embeddings} leaves no positions after pad_token_id ${config.pad_token_id} + 1`,
      file,
    );
  }
  return config;
}
