/**
 * By-hand measurement for docs/index-tuning.md (issue 17): the recall@10 / QPS / memory trade-off of every
 * vector index on SciFact embeddings of a model trained briefly on SciFact's train split (and of the same
 * model untrained), under `cosine` and raw `ip`. Too slow for the unit tests (a training run plus several
 * index builds), so it is a script; the numbers it printed are in docs/index-tuning.md.
 *
 *   node --import tsx scripts/measure-index-tradeoff.ts DATA_DIR OUT_DIR [steps]
 *
 * DATA_DIR is a BEIR SciFact folder (corpus.jsonl, queries.jsonl, qrels/train.tsv, qrels/test.tsv). The
 * embeddings go to OUT_DIR (`{untrained,trained}-{corpus,queries}.npy`) and are reused when present, so a
 * second run only measures (steps 0: only the untrained model). Queries: all 1,109 SciFact queries; recall@10 against exact search.
 */
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/backend/index.js';
import { loadBeir } from '../src/data/beir.js';
import { readNpy, writeNpy } from '../src/data/npy.js';
import { evaluateRun } from '../src/eval/metrics.js';
import { BinaryIndex } from '../src/index/binary.js';
import { ExactIndex } from '../src/index/exact.js';
import { HnswIndex } from '../src/index/hnsw.js';
import { Int8Index } from '../src/index/int8.js';
import { recallOfResults } from '../src/index/recall.js';
import { searchResultToRun } from '../src/index/result-run.js';
import type { Metric, VectorIndex } from '../src/index/types.js';
import { InBatchNegativesLoss } from '../src/losses/in-batch-negatives.js';
import { BiEncoder } from '../src/models/bi-encoder.js';
import { SentenceEncoder } from '../src/models/sentence-encoder.js';
import { examplesFromQrels, passageText } from '../src/train/examples.js';
import { Trainer } from '../src/train/trainer.js';
import type { Matrix } from '../src/types.js';
import { writeFileSync } from 'node:fs';

const DATA = path.resolve(process.argv[2] ?? 'examples/data/scifact');
const OUT = path.resolve(process.argv[3] ?? path.join(os.tmpdir(), 'scifact-tradeoff'));
const steps = Number(process.argv[4] ?? 300);
mkdirSync(OUT, { recursive: true });
const backend = await initBackend();

const corpus = await loadBeir(DATA, { split: 'test' });
const docIds = corpus.corpus.map((d) => d.id);
const queryIds = [...corpus.queries.keys()];

async function embeddings(): Promise<void> {
  if (existsSync(path.join(OUT, 'trained-queries.npy'))) return;
  if (steps === 0 && existsSync(path.join(OUT, 'untrained-queries.npy'))) return;
  const config = path.join(OUT, 'config.json');
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
  const encodeAll = async (tag: string): Promise<void> => {
    const docs = await model.encodePassages(corpus.corpus.map(passageText), { batchSize: 64, quiet: true });
    const q = await model.encodeQueries(
      queryIds.map((id) => corpus.queries.get(id)!),
      { batchSize: 64, quiet: true },
    );
    await writeNpy(path.join(OUT, `${tag}-corpus.npy`), docs);
    await writeNpy(path.join(OUT, `${tag}-queries.npy`), q);
  };
  await encodeAll('untrained');
  if (steps === 0) return;
  const train = await loadBeir(DATA, { split: 'train' });
  const trainer = new Trainer({
    model,
    loss: new InBatchNegativesLoss({ similarity: 'cosine' }),
    batchSize: 32,
    steps,
    lr: 1e-3,
    warmupSteps: Math.floor(steps / 10),
    seed: 1,
    outputDir: path.join(OUT, 'run'),
    logEvery: 50,
  });
  const t0 = Date.now();
  await trainer.train(examplesFromQrels(train));
  console.log(`trained ${steps} steps x 32 in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  await encodeAll('trained');
  model.dispose();
}

function norms(m: Matrix): string {
  const ns = Array.from({ length: m.rows }, (_, r) => {
    let s = 0;
    for (let j = 0; j < m.cols; j++) s += m.data[r * m.cols + j] ** 2;
    return Math.sqrt(s);
  }).sort((a, b) => a - b);
  const p = (x: number) => ns[Math.floor(x * (ns.length - 1))].toFixed(2);
  return `norms p5 ${p(0.05)} p50 ${p(0.5)} p95 ${p(0.95)}`;
}

/** Mean cosine of each document to the corpus mean direction: near 1 = one shared direction. */
function sharedDirection(m: Matrix): number {
  const mean = new Float64Array(m.cols);
  for (let r = 0; r < m.rows; r++) for (let j = 0; j < m.cols; j++) mean[j] += m.data[r * m.cols + j];
  const mn = Math.hypot(...mean);
  let total = 0;
  for (let r = 0; r < m.rows; r++) {
    let dot = 0;
    let n = 0;
    for (let j = 0; j < m.cols; j++) {
      dot += m.data[r * m.cols + j] * mean[j];
      n += m.data[r * m.cols + j] ** 2;
    }
    total += dot / (mn * Math.sqrt(n));
  }
  return total / m.rows;
}

async function timed(index: VectorIndex, q: Matrix, opts: object) {
  const t0 = performance.now();
  const r = await index.search(q, 10, opts);
  return { r, qps: q.rows / ((performance.now() - t0) / 1000) };
}

await embeddings();
for (const tag of ['untrained', 'trained']) {
  if (!existsSync(path.join(OUT, `${tag}-queries.npy`))) continue;
  const docs = await readNpy(path.join(OUT, `${tag}-corpus.npy`));
  const q = await readNpy(path.join(OUT, `${tag}-queries.npy`));
  console.log(
    `\n## ${tag}: ${docs.rows} x ${docs.cols}, ${norms(docs)}, mean cosine to the mean direction ${sharedDirection(docs).toFixed(3)}`,
  );
  for (const metric of ['cosine', 'ip'] as Metric[]) {
    const exact = new ExactIndex({ dim: docs.cols, metric });
    await exact.add(docs, docIds);
    const e = await timed(exact, q, {});
    const testRun = searchResultToRun(e.r, queryIds);
    const ndcg = evaluateRun(corpus.qrels, testRun, ['ndcg_cut.10']).mean.ndcg_cut_10;
    const row = (name: string, recall: number, qps: number, bytes: number) =>
      console.log(`| ${tag} | ${metric} | ${name} | ${recall.toFixed(3)} | ${qps.toFixed(0)} | ${bytes} |`);
    console.log(`(${metric}: exact nDCG@10 on the 300 test queries ${ndcg.toFixed(4)})`);
    console.log('| embeddings | metric | index | recall@10 | QPS | bytes/vector |');
    row('exact', 1, e.qps, docs.cols * 4);
    const spaces: (boolean | 'auto')[] = metric === 'ip' ? ['auto', true, false] : ['auto'];
    for (const mips of spaces) {
      for (const M of [16, 48]) {
        const hnsw = new HnswIndex({ dim: docs.cols, metric, M, efConstruction: 200, mipsTransform: mips });
        await hnsw.add(docs, docIds);
        const graph = metric !== 'ip' ? metric : hnsw.mipsTransform ? 'l2-reduction' : 'ip-space';
        for (const ef of [10, 20, 40, 100, 200]) {
          const h = await timed(hnsw, q, { ef });
          row(
            `HNSW M ${M} ${graph}${mips === 'auto' ? ' (auto)' : ''} ef ${ef}`,
            recallOfResults(h.r.ids, e.r.ids, 10),
            h.qps,
            M * 2 * 4 + docs.cols * 4,
          );
        }
      }
    }
    const i8 = new Int8Index({ dim: docs.cols, metric });
    await i8.add(docs, docIds);
    for (const m of [1, 4, 10]) {
      const r = await timed(i8, q, { rescoreMultiplier: m });
      row(`int8 + rescore x${m}`, recallOfResults(r.r.ids, e.r.ids, 10), r.qps, i8.bytesPerVector);
    }
    const bin = new BinaryIndex({ dim: docs.cols, metric });
    await bin.add(docs, docIds);
    for (const m of [1, 4, 10, 40]) {
      const r = await timed(bin, q, { rescoreMultiplier: m });
      row(`binary + rescore x${m}`, recallOfResults(r.r.ids, e.r.ids, 10), r.qps, bin.bytesPerVector);
    }
    const binKeep = new BinaryIndex({ dim: docs.cols, metric, keepVectors: true });
    await binKeep.add(docs, docIds);
    for (const m of [4, 10]) {
      const r = await timed(binKeep, q, { rescoreMultiplier: m });
      row(
        `binary + float rescore x${m}`,
        recallOfResults(r.r.ids, e.r.ids, 10),
        r.qps,
        binKeep.bytesPerVector,
      );
    }
  }
}
console.log(`\nbackend ${backend}`);
