/**
 * By-hand measurement for issue 4's "done when": a tiny BERT trained from scratch for a few hundred steps
 * on SciFact's train split lowers the loss and raises test nDCG@10 over its untrained self. Too slow for
 * the unit tests (minutes on wasm), so it is a script; the numbers it printed are in docs/training.md.
 *
 *   node --import tsx scripts/measure-scifact-training.ts [steps] [batchSize]
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { loadBeir } from '../src/data/beir.js';
import { evaluateRun } from '../src/eval/metrics.js';
import { ExactIndex } from '../src/index/exact.js';
import { searchResultToRun } from '../src/index/result-run.js';
import { InBatchNegativesLoss } from '../src/losses/in-batch-negatives.js';
import { BiEncoder } from '../src/models/bi-encoder.js';
import { SentenceEncoder } from '../src/models/sentence-encoder.js';
import { examplesFromQrels, passageText } from '../src/train/examples.js';
import { Trainer } from '../src/train/trainer.js';

const DATA = path.resolve(import.meta.dirname, '../examples/data/scifact');
const steps = Number(process.argv[2] ?? 300);
const batchSize = Number(process.argv[3] ?? 32);

const backend = await initBackend();
const dir = mkdtempSync(path.join(os.tmpdir(), 'scifact-train-'));
const config = path.join(dir, 'config.json');
writeFileSync(
  config,
  JSON.stringify({
    model_type: 'bert',
    hidden_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 128,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    max_position_embeddings: 512,
    type_vocab_size: 2,
    vocab_size: 30522,
    layer_norm_eps: 1e-12,
    initializer_range: 0.02,
    pad_token_id: 0,
  }),
);
const encoder = await SentenceEncoder.fromScratch(config, undefined, {
  seed: 1,
  pooling: 'mean',
  maxSeqLength: 64,
});
const model = BiEncoder.tied(encoder, { similarity: 'cosine' });

const train = await loadBeir(DATA, { split: 'train' });
const test = await loadBeir(DATA, { split: 'test' });
const examples = examplesFromQrels(train);

// 64% of SciFact's test positives are also train positives; report the queries whose positives are all
// unseen in training separately, so memorised documents cannot pass for generalisation.
const trainPositives = new Set(examples.map((e) => e.positiveId));
const unseen = new Map(
  [...test.qrels].filter(([, docs]) => [...docs].every(([id, g]) => g < 1 || !trainPositives.has(id))),
);

async function ndcg10(): Promise<{ all: number; unseen: number }> {
  const docs = await model.encodePassages(test.corpus.map(passageText), { batchSize: 64, quiet: true });
  const qids = [...test.queries.keys()];
  const q = await model.encodeQueries(
    qids.map((id) => test.queries.get(id)!),
    { batchSize: 64, quiet: true },
  );
  const index = new ExactIndex({ dim: docs.cols, metric: 'cosine' });
  await index.add(
    docs,
    test.corpus.map((d) => d.id),
  );
  const run = searchResultToRun(await index.search(q, 100), qids);
  return {
    all: evaluateRun(test.qrels, run, ['ndcg_cut.10']).mean.ndcg_cut_10,
    unseen: evaluateRun(unseen, run, ['ndcg_cut.10']).mean.ndcg_cut_10,
  };
}
const show = (r: { all: number; unseen: number }) =>
  `${r.all.toFixed(4)} (queries with unseen positives only, n=${unseen.size}: ${r.unseen.toFixed(4)})`;

const before = await ndcg10();
console.log(`backend ${backend}; ${examples.length} train pairs; untrained test nDCG@10 = ${show(before)}`);
const trainer = new Trainer({
  model,
  loss: new InBatchNegativesLoss({ similarity: 'cosine' }),
  batchSize,
  steps,
  lr: 1e-3,
  warmupSteps: Math.floor(steps / 10),
  seed: 1,
  outputDir: path.join(dir, 'run'),
  logEvery: 10,
});
const t0 = Date.now();
const { losses } = await trainer.train(examples);
const seconds = (Date.now() - t0) / 1000;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const after = await ndcg10();
console.log(
  `${steps} steps x batch ${batchSize} in ${seconds.toFixed(0)} s: loss (mean of first/last 20 steps) ` +
    `${mean(losses.slice(0, 20)).toFixed(3)} -> ${mean(losses.slice(-20)).toFixed(3)}; ` +
    `test nDCG@10 ${show(before)} -> ${show(after)}`,
);
model.dispose();
