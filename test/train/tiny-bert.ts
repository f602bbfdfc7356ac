import { writeFileSync } from 'node:fs';
import path from 'node:path';

/** Write a 1-layer BERT config (hidden 16) with the bert-base-uncased vocabulary into `dir`; returns its path. */
export function tinyConfig(dir: string, dropout = 0, hidden = 16): string {
  const file = path.join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      architectures: ['BertModel'],
      model_type: 'bert',
      hidden_size: hidden,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 2 * hidden,
      hidden_act: 'gelu',
      hidden_dropout_prob: dropout,
      attention_probs_dropout_prob: dropout,
      max_position_embeddings: 64,
      type_vocab_size: 2,
      vocab_size: 30522,
      layer_norm_eps: 1e-12,
      initializer_range: 0.02,
      pad_token_id: 0,
    }),
  );
  return file;
}
