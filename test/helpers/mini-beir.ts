import { promises as fs } from 'node:fs';
import path from 'node:path';

/** A small BEIR-layout dataset: 40 documents, 6 judged queries. */
export async function miniBeir(dir: string): Promise<string> {
  const topics = [
    'protein folding',
    'black holes',
    'stock markets',
    'river ecology',
    'vaccine trials',
    'jazz music',
  ];
  const corpus: string[] = [];
  for (let i = 0; i < 40; i++) {
    const t = topics[i % topics.length];
    corpus.push(
      JSON.stringify({
        _id: `d${i}`,
        title: `${t} ${i}`,
        text: `A study of ${t} number ${i} and related work.`,
      }),
    );
  }
  const queries = topics.map((t, i) => JSON.stringify({ _id: `q${i}`, text: `what is known about ${t}` }));
  const qrels = ['query-id\tcorpus-id\tscore', ...topics.map((_, i) => `q${i}\td${i}\t1`)];
  await fs.mkdir(path.join(dir, 'qrels'), { recursive: true });
  await fs.writeFile(path.join(dir, 'corpus.jsonl'), corpus.join('\n') + '\n');
  await fs.writeFile(path.join(dir, 'queries.jsonl'), queries.join('\n') + '\n');
  await fs.writeFile(path.join(dir, 'qrels', 'test.tsv'), qrels.join('\n') + '\n');
  return dir;
}

/** A one-layer BERT config for `scratch:` models in CLI tests. */
export const TINY_BERT = {
  model_type: 'bert',
  vocab_size: 30522,
  hidden_size: 16,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 32,
  max_position_embeddings: 64,
  type_vocab_size: 2,
  hidden_act: 'gelu',
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
};
