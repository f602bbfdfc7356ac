/**
 * Gradient caching: train with batch 512 on the tensor memory of batch 32, and see what the bigger batch
 * (more in-batch negatives) does to the model.
 *
 *   npx tsx examples/gradient-cache.ts            # batch 32 vs 512, 20 steps each, full SciFact test corpus
 *   npx tsx examples/gradient-cache.ts --quick    # tiny settings (the test runs this), seconds
 *   flags: --small 32 --big 512 --mini 32 --steps 20 --seq 64 --docs N --lr 1e-3
 *
 * Part 1 measures the peak tensor memory of one gradient computation (the engine's byte count after every
 * kernel, via tf.profile; weights and optimizer state excluded) for: plain loss at the small batch, plain
 * loss at the big batch, and CachedInBatchNegativesLoss at the big batch in chunks of `--mini` texts.
 * Part 2 trains the same randomly initialised model for the same number of steps at the small batch
 * (plain loss) and at the big batch (cached loss), then scores both with exact search on the test split.
 *
 * In your own project, import from 'dense-retrieval' instead of '../src/index.js'.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import * as dr from '../src/index.js';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    small: { type: 'string' },
    big: { type: 'string' },
    mini: { type: 'string' },
    steps: { type: 'string' },
    seq: { type: 'string' },
    docs: { type: 'string' },
    lr: { type: 'string' },
  },
});
const quick = flags.quick === true;
/** A numeric flag, or its default (the quick default under --quick). */
function num(name: keyof typeof flags, full: number, small: number): number {
  const raw = flags[name];
  if (raw === undefined) return quick ? small : full;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new dr.ArgumentError(`--${name}`, `must be a positive number, got '${String(raw)}'`);
  }
  return value;
}
const small = num('small', 32, 4);
const big = num('big', 512, 16);
const mini = num('mini', 32, 4);
const steps = num('steps', 20, 2);
const seq = num('seq', 64, 24);
const docs = num('docs', Infinity, 40);
const lr = num('lr', 1e-3, 1e-3);

console.log(`backend: ${await dr.initBackend()}`);
const train = await dr.loadBeir('examples/data/scifact', { split: 'train' });
const test = await dr.loadBeir('examples/data/scifact', { split: 'test' });
const examples = dr.examplesFromQrels(train);
if (big > examples.length) throw new dr.ArgumentError('--big', `must be <= ${examples.length} (train pairs)`);

// The same random initialisation for every configuration, so only the batch size differs.
const tokenizer = await dr.TextTokenizer.fromDirectory(dr.BUNDLED_TOKENIZERS.bertBaseUncased);
const size = { hidden_size: 64, intermediate_size: 256, num_hidden_layers: 2, num_attention_heads: 2 };
const config = dr.parseBertConfig({ model_type: 'bert', ...size });
function freshModel(): dr.BiEncoder<dr.SentenceEncoder> {
  const bert = dr.BertModel.random(config, 7);
  const encoder = new dr.SentenceEncoder({
    bert,
    tokenizer,
    pooling: 'mean',
    normalize: false,
    maxSeqLength: seq,
  });
  return dr.BiEncoder.tied(encoder, { similarity: 'dot' });
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

// Part 1: peak tensor memory of one gradient computation.
async function peakOfStep(
  loss: dr.RetrievalLoss,
  batchSize: number,
): Promise<{ peak: number; value: number }> {
  const model = freshModel();
  const indices = new dr.NoDuplicatesBatchSampler(examples, batchSize, 1).next();
  const batch = {
    queries: indices.map((i) => examples[i].query),
    positives: indices.map((i) => examples[i].positive),
    passageIds: indices.map((i) => examples[i].positiveId!),
  };
  const before = tf.memory().numBytes;
  let value = NaN;
  const profile = await tf.profile(() => {
    const result = loss.computeGradients(model.queryEncoder, model.passageEncoder, batch, { dropoutSeed: 1 });
    value = result.loss;
    for (const g of result.grads.values()) g.dispose();
  });
  model.dispose();
  return { peak: profile.peakBytes - before, value };
}

console.log(`\n1. Peak tensor memory of one step (above weights), max ${seq} tokens per text`);
const plain = new dr.InBatchNegativesLoss();
const rows: Array<{ name: string; peak: number; value?: number; note?: string }> = [];
rows.push({ name: `plain  batch ${small}`, ...(await peakOfStep(plain, small)) });
// tfjs keeps every activation of the taped pass until the gradients are computed, so the plain loss's
// memory grows linearly with the batch; at 512 it exceeds what the wasm heap can hold (4 GiB) and the
// process aborts. So a plain big batch is only measured when it is at most 4x the small one; otherwise
// it is extrapolated from the small batch and twice the small batch.
if (big <= 4 * small) {
  rows.push({ name: `plain  batch ${big}`, ...(await peakOfStep(plain, big)) });
} else {
  const double = await peakOfStep(plain, 2 * small);
  rows.push({ name: `plain  batch ${2 * small}`, ...double });
  const perExample = (double.peak - rows[0].peak) / small;
  const peak = double.peak + perExample * (big - 2 * small);
  rows.push({ name: `plain  batch ${big}`, peak, note: `extrapolated from ${small} and ${2 * small}` });
}
const cached = new dr.CachedInBatchNegativesLoss({ miniBatchSize: mini });
rows.push({ name: `cached batch ${big} (chunks of ${mini})`, ...(await peakOfStep(cached, big)) });
const width = Math.max(...rows.map((r) => r.name.length));
for (const r of rows) {
  const tail = r.value === undefined ? `(${r.note})` : `loss ${r.value.toFixed(4)}`;
  console.log(`${r.name.padEnd(width)}  peak ${mib(r.peak).padStart(10)}  ${tail}`);
}
const [plainSmall, plainBig, cachedBig] = [rows[0], rows.at(-2)!, rows.at(-1)!];
console.log(
  `cached ${big} / plain ${small}: ${(cachedBig.peak / plainSmall.peak).toFixed(2)}x memory; ` +
    `plain ${big} / cached ${big}: ${(plainBig.peak / cachedBig.peak).toFixed(2)}x`,
);

// Part 2: equal steps at the small and the big batch.
const judged = new Set([...test.qrels.values()].flatMap((d) => [...d.keys()]));
const corpus = test.corpus.filter((d, i) => i < docs || judged.has(d.id));
const evaluator = new dr.RetrievalEvaluator({ ...test, corpus, indexes: ['exact'], quiet: true });

async function trainAndScore(batchSize: number, loss: dr.RetrievalLoss) {
  const model = freshModel();
  const trainer = new dr.Trainer({ model, loss, batchSize, steps, lr, seed: 1, quiet: true });
  const { losses } = await trainer.train(examples);
  const table = await evaluator.evaluate(model.passageEncoder);
  trainer.dispose();
  model.dispose();
  return { first: losses[0], last: losses.at(-1)!, ndcg: table.rows[0].ndcg10 };
}

console.log(
  `\n2. ${steps} steps each, lr ${lr}, then exact search over ${corpus.length} docs, ${test.queries.size} queries`,
);
const runs = [
  { name: `batch ${small} (plain)`, ...(await trainAndScore(small, new dr.InBatchNegativesLoss())) },
  {
    name: `batch ${big} (cached, chunks of ${mini})`,
    ...(await trainAndScore(big, new dr.CachedInBatchNegativesLoss({ miniBatchSize: mini }))),
  },
];
const w2 = Math.max(...runs.map((r) => r.name.length));
for (const [r, b] of runs.map((r, i) => [r, i === 0 ? small : big] as const)) {
  console.log(
    `${r.name.padEnd(w2)}  loss ${r.first.toFixed(4)} -> ${r.last.toFixed(4)} (chance ln ${b} = ${Math.log(b).toFixed(4)})` +
      `  nDCG@10 ${r.ndcg.toFixed(4)}`,
  );
}
console.log(`tensors left: ${tf.memory().numTensors}`);
