import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { loadBeir } from '../../src/data/beir.js';
import { RetrievalEvaluator } from '../../src/eval/retrieval-evaluator.js';
import { loadModel } from '../../src/models/load.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { tmpDir } from '../helpers/tmp.js';
import { grab, runExample } from './run-example.js';

const tmp = tmpDir('finetune-example-');
const checkpoint = path.join(tmp, 'tiny-model');

before(async () => {
  await initBackend();
  // A tiny random "pretrained" checkpoint in the sentence-transformers layout, as a user's local model.
  const configFile = path.join(tmp, 'config.json');
  await fs.writeFile(
    configFile,
    JSON.stringify({
      model_type: 'bert',
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      max_position_embeddings: 48,
    }),
  );
  const encoder = await SentenceEncoder.fromScratch(configFile, undefined, { seed: 3, normalize: true });
  await encoder.save(checkpoint);
  encoder.dispose();
});

/** The table rows `name  nDCG MRR R@100 MAP recall` printed after `heading`. */
function table(stdout: string, heading: string): Map<string, number[]> {
  const start = stdout.indexOf(heading);
  assert.ok(start >= 0, `no '${heading}' in:\n${stdout}`);
  const rows = new Map<string, number[]>();
  for (const line of stdout.slice(start).split('\n').slice(2)) {
    // † marks a value that differs significantly from the first row (formatEvaluationTable).
    const m = /^(exact|hnsw ef=\d+|bm25)\s+([\d.]+)†?\s+([\d.]+)\s+([\d.]+)†?\s+([\d.]+)†?\s+(\S+)$/.exec(
      line,
    );
    if (m === null) break;
    rows.set(m[1], m.slice(2, 6).map(Number));
  }
  return rows;
}

test('finetune-vs-pretrained evaluates a local checkpoint, fine-tunes it, evaluates and saves it', async () => {
  const out = path.join(tmp, 'fine-tuned');
  const args = ['--model', checkpoint, '--steps', '2', '--batch', '8', '--lr', '1e-3', '--docs', '30'];
  const { code, stdout, stderr } = await runExample('finetune-vs-pretrained', [
    ...args,
    ...['--hard-negatives', '1', '--ef', '100,200', '--out', out],
  ]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^model: .*tiny-model \(32-d, mean pooling, normalize true, max 48 tokens\)$/m);

  const pretrained = table(stdout, 'pretrained,');
  const fineTuned = table(stdout, 'fine-tuned,');
  for (const rows of [pretrained, fineTuned]) {
    assert.deepEqual([...rows.keys()], ['exact', 'hnsw ef=100', 'hnsw ef=200', 'bm25']);
    for (const values of rows.values()) for (const v of values) assert.ok(v >= 0 && v <= 1, `${v}`);
  }
  // BM25 does not depend on the model: the same row before and after fine-tuning.
  assert.deepEqual(pretrained.get('bm25'), fineTuned.get('bm25'));

  assert.match(
    stdout,
    /^fine-tuning: \d+ pairs, batch 8, 2 steps, hard negatives 1, gradient cache chunks of 4$/m,
  );
  const [first, last] = grab(stdout, /^2 steps, loss ([\d.]+) -> ([\d.]+)$/m).map(Number);
  // 8 queries x 16 passages (8 positives + 8 hard negatives), cosine x 20 on a random model: near ln 16.
  assert.ok(Math.abs(first - Math.log(16)) < 1, `first loss ${first}`);
  assert.ok(Number.isFinite(last), `last loss ${last}`);
  // No reference line: neither a known hub model nor the full corpus.
  assert.doesNotMatch(stdout, /published \(MTEB\)/);
  assert.match(stdout, /^tensors left: 0$/m);

  // The saved model is the one that was evaluated: reloading it gives the printed fine-tuned row.
  const ndcg = fineTuned.get('exact')![0].toFixed(4);
  const { corpus, queries, qrels } = await loadBeir('examples/data/scifact', { split: 'test' });
  const judged = new Set([...qrels.values()].flatMap((d) => [...d.keys()]));
  const kept = corpus.filter((d, i) => i < 30 || judged.has(d.id));
  const reloaded = await loadModel(out, { quiet: true });
  const numTensors = tf.memory().numTensors;
  const evaluation = await new RetrievalEvaluator({
    corpus: kept,
    queries,
    qrels,
    indexes: ['exact'],
    metric: 'cosine',
    quiet: true,
  }).evaluate(reloaded);
  assert.equal(tf.memory().numTensors, numTensors);
  reloaded.dispose();
  assert.equal(evaluation.rows[0].ndcg10.toFixed(4), ndcg);
});

test('finetune-vs-pretrained offline with a hub id says where the model must go and how to get one', async () => {
  const cache = path.join(tmp, 'empty-cache');
  const { code, stdout, stderr } = await runExample(
    'finetune-vs-pretrained',
    ['--model', 'sentence-transformers/all-MiniLM-L12-v2'],
    { env: { HF_HUB_OFFLINE: '1', DENSE_RETRIEVAL_CACHE: cache } },
  );
  assert.equal(code, 2, stdout + stderr);
  assert.match(stderr, /cannot get sentence-transformers\/all-MiniLM-L12-v2: offline \(HF_HUB_OFFLINE\)/);
  const modelDir = path.join(cache, 'hub', 'sentence-transformers--all-MiniLM-L12-v2', 'main');
  assert.ok(stderr.includes(`then copy ${modelDir} (with its .complete`), stderr);
  assert.match(stderr, /pass --model <dir> with a local sentence-transformers checkpoint/);
  assert.match(stderr, /git clone https:\/\/huggingface\.co\/sentence-transformers\/all-MiniLM-L12-v2/);
});

test('finetune-vs-pretrained names a bad flag', async () => {
  const { code, stderr } = await runExample('finetune-vs-pretrained', [
    '--model',
    checkpoint,
    '--ef',
    '100,abc',
  ]);
  assert.notEqual(code, 0);
  assert.match(stderr, /ArgumentError: --ef: expected positive integers, got 'abc'/);
});
