// Train a tiny bi-encoder from scratch on SciFact, index the corpus, search, score nDCG@10.
//   npx tsx examples/quickstart.ts [--steps 30] [--docs N]   (--docs N: first N documents + the judged ones)
// In your own project, import from 'dense-retrieval' instead of '../src/index.js'.
import { parseArgs } from 'node:util';
import * as dr from '../src/index.js';

const { values: flags } = parseArgs({ options: { steps: { type: 'string' }, docs: { type: 'string' } } });
console.log(`backend: ${await dr.initBackend()}`);
const train = await dr.loadBeir('examples/data/scifact', { split: 'train' });
const test = await dr.loadBeir('examples/data/scifact', { split: 'test' });
const judged = new Set([...test.qrels.values()].flatMap((docs) => [...docs.keys()]));
const corpus = test.corpus.filter((d, i) => i < Number(flags.docs ?? Infinity) || judged.has(d.id));

// A 2-layer, 64-wide BERT with random weights and the bundled bert-base-uncased tokenizer.
const size = { hidden_size: 64, intermediate_size: 256, num_hidden_layers: 2, num_attention_heads: 2 };
const bert = dr.BertModel.random(dr.parseBertConfig({ model_type: 'bert', ...size }), 1);
const tokenizer = await dr.TextTokenizer.fromDirectory(dr.BUNDLED_TOKENIZERS.bertBaseUncased);
const init = { bert, tokenizer, pooling: 'mean' as const, normalize: false, maxSeqLength: 128 };
const encoder = new dr.SentenceEncoder(init);
const model = dr.BiEncoder.tied(encoder, { similarity: 'dot' });

// In-batch negatives (other queries' positives are negatives); default schedule: warmup + cosine decay.
const loss = new dr.InBatchNegativesLoss();
const steps = Number(flags.steps ?? 30);
const trainer = new dr.Trainer({ model, loss, batchSize: 32, steps, lr: 1e-3 });
const { losses } = await trainer.train(dr.examplesFromQrels(train));
console.log(`loss: step 1 ${losses[0].toFixed(3)}, step ${steps} ${losses.at(-1)!.toFixed(3)}`);

// Exact inner-product search over the encoded corpus, scored like trec_eval's ndcg_cut.10.
const index = new dr.ExactIndex({ dim: encoder.dim, metric: 'ip' });
const docIds = corpus.map((d) => d.id);
await index.add(await encoder.encode(corpus.map(dr.passageText)), docIds);
const queryIds = [...test.queries.keys()];
const hits = await index.search(await encoder.encode(queryIds.map((id) => test.queries.get(id)!)), 10);
const { mean } = dr.evaluateRun(test.qrels, dr.searchResultToRun(hits, queryIds), ['ndcg_cut.10']);
console.log(`top hit for "${test.queries.get(queryIds[0])}": ${hits.ids[0][0]}`);
console.log(`nDCG@10: ${mean.ndcg_cut_10.toFixed(4)} (${queryIds.length} queries, ${corpus.length} docs)`);
trainer.dispose();
model.dispose();
