/**
 * The student's comparison: a pretrained sentence-transformers model on SciFact, before and after
 * fine-tuning it on the train split, with exact search, HNSW and BM25 side by side.
 *
 *   npx tsx examples/finetune-vs-pretrained.ts                        # sentence-transformers/all-MiniLM-L12-v2
 *   npx tsx examples/finetune-vs-pretrained.ts --model sentence-transformers/all-MiniLM-L6-v2
 *   npx tsx examples/finetune-vs-pretrained.ts --model ./my-checkpoint --epochs 1 --out runs/ft
 *
 * A hub id is downloaded once into the model cache (`~/.cache/dense-retrieval`, or $DENSE_RETRIEVAL_CACHE);
 * offline, pass a local checkpoint directory. Flags:
 *   --model SRC          hub id or local directory (default sentence-transformers/all-MiniLM-L12-v2)
 *   --data DIR           BEIR collection with train and test qrels (default examples/data/scifact)
 *   --epochs N | --steps N   length of fine-tuning (default 1 epoch)
 *   --batch N            queries per batch, i.e. in-batch negatives + 1 (default 32)
 *   --mini N             gradient caching in chunks of N texts (default 4; 0 = plain loss, see below)
 *   --lr X               peak learning rate of the warmup-cosine schedule (default 2e-5)
 *   --hard-negatives N   add N BM25-mined hard negatives per query (default 0)
 *   --similarity S       cosine (default, scale 20 as sentence-transformers) or dot
 *   --ef LIST            HNSW query beam widths, comma-separated (default 100,512)
 *   --docs N             evaluate on the first N documents plus the judged ones only (smoke runs)
 *   --out DIR            save the fine-tuned model there (sentence-transformers layout)
 *
 * Why gradient caching by default: a taped forward pass keeps its activations until the gradients are
 * computed, and the wasm backend's heap stops at 4 GiB. At batch 32 the plain loss fits a MiniLM-L12-shaped
 * model at 128 tokens (3.4 GiB peak) but not SciFact's passages at 256 (the loss refuses the step up front);
 * `--mini 4` peaks near 1 GiB and costs about a quarter more time (examples/README.md has the numbers). With
 * tfjs-node there is no such limit and `--mini 0` saves the second forward pass.
 *
 * In your own project, import from 'dense-retrieval' instead of '../src/index.js'.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import * as dr from '../src/index.js';

/** Published nDCG@10 on SciFact (MTEB leaderboard; BM25 from BEIR and Pyserini), for orientation. */
const REFERENCE: Record<string, number> = {
  'sentence-transformers/all-MiniLM-L12-v2': 0.626,
  'sentence-transformers/all-MiniLM-L6-v2': 0.645,
};

const { values: flags } = parseArgs({
  options: {
    model: { type: 'string', default: 'sentence-transformers/all-MiniLM-L12-v2' },
    data: { type: 'string', default: 'examples/data/scifact' },
    epochs: { type: 'string' },
    steps: { type: 'string' },
    batch: { type: 'string', default: '32' },
    mini: { type: 'string', default: '4' },
    lr: { type: 'string', default: '2e-5' },
    'hard-negatives': { type: 'string', default: '0' },
    similarity: { type: 'string', default: 'cosine' },
    ef: { type: 'string', default: '100,512' },
    docs: { type: 'string' },
    out: { type: 'string' },
  },
});

/** A numeric flag; `undefined` when not given. Bad values fail here, naming the flag. */
function num(name: keyof typeof flags, integer = true): number | undefined {
  const raw = flags[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new dr.ArgumentError(`--${name}`, `expected a ${integer ? 'whole ' : ''}number >= 0, got '${raw}'`);
  }
  return value;
}
const similarity = flags.similarity;
if (similarity !== 'cosine' && similarity !== 'dot') {
  throw new dr.ArgumentError('--similarity', `expected cosine or dot, got '${similarity}'`);
}
const ef = flags.ef!.split(',').map((v) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1)
    throw new dr.ArgumentError('--ef', `expected positive integers, got '${v}'`);
  return n;
});
const steps = num('steps');
const epochs = steps === undefined ? (num('epochs') ?? 1) : undefined;
const hardNegatives = num('hard-negatives')!;
const maxDocs = num('docs') ?? Infinity;

console.log(`backend: ${await dr.initBackend()}`);
const source = flags.model!;
let encoder: dr.SentenceEncoder;
try {
  encoder = await dr.loadModel(source);
} catch (error) {
  if (!(error instanceof dr.HubError)) throw error;
  // No network (or no such model): the error names the cache directory a copy must be put in.
  console.error(`cannot get ${source}: ${error.message}`);
  console.error(
    [
      'To run this example without network access, either',
      `  - run it once on a machine that has access, then copy ${error.modelDir} (with its .complete`,
      '    file) to the same path here, or copy that whole cache and point DENSE_RETRIEVAL_CACHE at it, or',
      '  - pass --model <dir> with a local sentence-transformers checkpoint (config.json, model.safetensors,',
      '    tokenizer.json, modules.json, 1_Pooling/config.json), e.g. from',
      `    git clone https://huggingface.co/${source}   (needs git-lfs for model.safetensors)`,
    ].join('\n'),
  );
  process.exit(2);
}
console.log(
  `model: ${source} (${encoder.dim}-d, ${encoder.pooling} pooling, normalize ${encoder.normalize}, ` +
    `max ${encoder.maxSeqLength} tokens)`,
);

const train = await dr.loadBeir(flags.data!, { split: 'train' });
const test = await dr.loadBeir(flags.data!, { split: 'test' });
const judged = new Set([...test.qrels.values()].flatMap((d) => [...d.keys()]));
const corpus = test.corpus.filter((d, i) => i < maxDocs || judged.has(d.id));
const metric = similarity === 'cosine' ? 'cosine' : 'ip';
const evaluator = new dr.RetrievalEvaluator({
  corpus,
  queries: test.queries,
  qrels: test.qrels,
  indexes: ['exact', 'hnsw', 'bm25'],
  ef,
  metric,
});

console.log(`\npretrained, ${corpus.length} docs:`);
const before = await evaluator.evaluate(encoder);
console.log(dr.formatEvaluationTable(before));

// Training pairs from the train qrels, optionally with BM25 hard negatives (ranks 3-30, skipping the very
// top where unjudged positives hide), over the whole corpus.
let examples = dr.examplesFromQrels(train);
if (hardNegatives > 0) {
  const bm25 = new dr.Bm25Index();
  bm25.addDocuments(train.corpus);
  const mined = await dr.mineHardNegatives({
    ...train,
    numNegatives: hardNegatives,
    rangeMin: 3,
    rangeMax: 30,
    ...dr.bm25MiningRetriever(bm25),
  });
  const byId = new Map(train.corpus.map((d) => [d.id, d] as const));
  examples = examples
    .filter((e) => mined.get(e.queryId!)!.length === hardNegatives)
    .map((e) => {
      const ids = mined.get(e.queryId!)!;
      return { ...e, negatives: ids.map((id) => dr.passageText(byId.get(id)!)), negativeIds: ids };
    });
}
const batchSize = num('batch')!;
const mini = num('mini')!;
// The similarity is set once, on the model; the Trainer gives it to the loss (scale 20 for cosine).
const loss =
  mini === 0 ? new dr.InBatchNegativesLoss() : new dr.CachedInBatchNegativesLoss({ miniBatchSize: mini });
const model = dr.BiEncoder.tied(encoder, { similarity });
const trainer = new dr.Trainer({ model, loss, batchSize, steps, epochs, lr: num('lr', false) });
const length = steps === undefined ? `${epochs} epoch(s)` : `${steps} steps`;
console.log(
  `\nfine-tuning: ${examples.length} pairs, batch ${batchSize}, ${length}, hard negatives ${hardNegatives}, ` +
    (mini === 0 ? 'plain loss' : `gradient cache chunks of ${mini}`),
);
const result = await trainer.train(examples);
console.log(
  `${result.step} steps, loss ${result.losses[0].toFixed(4)} -> ${result.losses.at(-1)!.toFixed(4)}`,
);
trainer.dispose();

console.log(`\nfine-tuned, ${corpus.length} docs:`);
const after = await evaluator.evaluate(encoder);
console.log(dr.formatEvaluationTable(after));

console.log('\nnDCG@10       pretrained  fine-tuned  change');
for (const [i, row] of before.rows.entries()) {
  const [b, a] = [row.ndcg10, after.rows[i].ndcg10];
  console.log(
    `${row.name.padEnd(12)}  ${b.toFixed(4).padStart(10)}  ${a.toFixed(4).padStart(10)}  ${(a - b >= 0 ? '+' : '') + (a - b).toFixed(4)}`,
  );
}
const reference = REFERENCE[source];
if (reference !== undefined && corpus.length === test.corpus.length) {
  console.log(`published (MTEB) nDCG@10 of ${source} on SciFact: ${reference}; BM25 0.665-0.679`);
}
if (flags.out !== undefined) {
  await model.save(flags.out);
  console.log(`saved the fine-tuned model to ${flags.out}`);
}
model.dispose();
console.log(`tensors left: ${tf.memory().numTensors}`);
