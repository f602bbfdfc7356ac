import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';

const TOPICS = 'river mountain desert ocean forest glacier volcano canyon meadow island swamp tundra'.split(
  ' ',
);

/** A small BEIR dataset: 12 documents, 12 train queries (one relevant document each), and a qrels file. */
function beir(dir: string, grade = 1): string {
  const data = path.join(dir, 'beir');
  mkdirSync(path.join(data, 'qrels'), { recursive: true });
  writeFileSync(
    path.join(data, 'corpus.jsonl'),
    TOPICS.map((t, i) =>
      JSON.stringify({
        _id: `d${i}`,
        title: t,
        text: `the ${t} is near the ${TOPICS[(i + 1) % TOPICS.length]}`,
      }),
    ).join('\n') + '\n',
  );
  writeFileSync(
    path.join(data, 'queries.jsonl'),
    TOPICS.map((t, i) => JSON.stringify({ _id: `q${i}`, text: `tell me about the ${t}` })).join('\n') + '\n',
  );
  writeFileSync(
    path.join(data, 'qrels', 'train.tsv'),
    'query-id\tcorpus-id\tscore\n' + TOPICS.map((_, i) => `q${i}\td${i}\t${grade}`).join('\n') + '\n',
  );
  return data;
}

test('train from scratch writes a model encode can load, a JSONL log and checkpoints', async () => {
  const dir = tmpDir();
  const data = beir(dir);
  const out = path.join(dir, 'out');
  const args = ['train', '--model', `scratch:${tinyConfig(dir)}`, '--data', data, '--out', out];
  const r = await runCli([
    ...args,
    '--eval-split',
    'train',
    '--eval-every',
    '2',
    '--steps',
    '4',
    '--batch-size',
    '4',
    '--lr',
    '1e-3',
    '--checkpoint-every',
    '2',
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /training on 12 pairs of .*beir \(train\), batch 4, tied towers, dot/);
  assert.match(r.stderr, /trained 4\/4 steps, loss \d+\.\d{4} -> \d+\.\d{4}; model saved to /);
  for (const f of [
    'config.json',
    'model.safetensors',
    'modules.json',
    'bi_encoder.json',
    'train_log.jsonl',
  ]) {
    assert.ok(existsSync(path.join(out, f)), f);
  }
  const log = readFileSync(path.join(out, 'train_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(
    log.map((r: { step: number }) => r.step),
    [1, 2, 3, 4],
  );
  // --quiet: the evaluations are not printed, but eval_log.jsonl holds them.
  assert.doesNotMatch(r.stderr, /eval step/);
  const history = readFileSync(path.join(out, 'eval_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; metrics: Record<string, number> });
  assert.deepEqual(
    history.map((h) => [h.step, Object.keys(h.metrics)]),
    [
      [2, ['ndcg_cut_10', 'recall_100']],
      [4, ['ndcg_cut_10', 'recall_100']],
    ],
  );
  const evals = log.filter((x: { eval?: unknown }) => x.eval).map((x: { step: number }) => x.step);
  assert.deepEqual(evals, [2, 4]);
  assert.deepEqual(readdirSync(path.join(out, 'checkpoints')), ['step-00000002', 'step-00000004']);

  const texts = path.join(dir, 'texts.txt');
  writeFileSync(texts, 'a river\na desert\n');
  const enc = await runCli([
    'encode',
    '--model',
    out,
    '--input',
    texts,
    '--output',
    path.join(dir, 'e.npy'),
    '--quiet',
  ]);
  assert.equal(enc.code, 0, enc.stderr);
  assert.match(enc.stderr, /encoded 2 texts .* \[2, 16\]/);

  const again = await runCli([
    ...args,
    '--steps',
    '4',
    '--batch-size',
    '4',
    '--lr',
    '1e-3',
    '--resume',
    '--quiet',
  ]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /trained 4\/4 steps \(resumed from step 4\), nothing left to train/);
});

test('untied towers, cosine, BM25 hard negatives and gradient caching together', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'out');
  const r = await runCli([
    'train',
    '--model',
    `scratch:${tinyConfig(dir)}`,
    '--data',
    beir(dir),
    '--out',
    out,
    '--steps',
    '2',
    '--batch-size',
    '3',
    '--untied',
    '--similarity',
    'cosine',
    '--hard-negatives',
    '1',
    '--cache-mini-batch',
    '2',
    '--max-length',
    '32',
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  // Issue 12: --max-length is saved with the model; say so, once.
  assert.equal(
    r.stderr.match(/saved max_seq_length: 32 with the model \(from --max-length\)/g)?.length,
    1,
    r.stderr,
  );
  // Untied towers are saved as a Router model: each route's Transformer folder holds its sentence_bert_config.
  for (const tower of ['query_0_Transformer', 'document_0_Transformer']) {
    const config = JSON.parse(readFileSync(path.join(out, tower, 'sentence_bert_config.json'), 'utf8'));
    assert.equal(config.max_seq_length, 32);
  }
  assert.match(r.stderr, /mined 1 BM25 hard negative\(s\) per query; kept \d+ of 12 examples/);
  assert.match(r.stderr, /gradient cache, mini-batch 2\), untied towers, cosine/);
  // Untied towers are one sentence-transformers Router model (query and document routes).
  assert.ok(existsSync(path.join(out, 'query_0_Transformer', 'model.safetensors')));
  assert.ok(existsSync(path.join(out, 'document_0_Transformer', 'model.safetensors')));
  const router = JSON.parse(readFileSync(path.join(out, 'router_config.json'), 'utf8'));
  assert.deepEqual(Object.keys(router.structure), ['query', 'document']);
  assert.equal(
    JSON.parse(readFileSync(path.join(out, 'config_sentence_transformers.json'), 'utf8')).similarity_fn_name,
    'cosine',
  );
});

/** Run the CLI in this process (no child start-up cost) and capture what it writes to stderr. */
async function runInProcess(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += chunk.toString();
    return true;
  }) as typeof process.stderr.write;
  try {
    return { code: await main(args), stderr };
  } finally {
    process.stderr.write = write;
  }
}

test('bad inputs are one-line errors naming the problem', async () => {
  const dir = tmpDir();
  const data = beir(dir);
  const scratch = `scratch:${tinyConfig(dir)}`;
  const base = ['train', '--model', scratch, '--data', data, '--out', path.join(dir, 'out'), '--quiet'];
  const cases: [string[], number, RegExp][] = [
    [['--split', 'dev'], 1, /no split 'dev' in BEIR dataset .*\(available splits: train\)/],
    [['--batch-size', '64'], 1, /batchSize: \(64\) is larger than the 12 training examples/],
    [
      ['--lr', '1e-4', '--min-lr', '1e-3', '--batch-size', '4'],
      1,
      /minLr: \(0\.001\) must not exceed maxLr \(0\.0001\)/,
    ],
    [
      ['--steps', '5', '--warmup', '10', '--batch-size', '4'],
      1,
      /warmupSteps: \(10\) must not exceed the number of training steps: steps is 5/,
    ],
    [['--steps', '5', '--epochs', '1'], 2, /--epochs and --steps exclude each other/],
    [['--similarity', 'l2'], 2, /--similarity must be one of dot\|cosine, got 'l2'/],
  ];
  for (const [extra, code, message] of cases) {
    const r = await runInProcess([...base, ...extra]);
    assert.equal(r.code, code, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => /error/.test(l)).length,
      1,
    );
  }
  const noPositives = beir(tmpDir(), 0);
  const r = await runInProcess([
    'train',
    '--model',
    scratch,
    '--data',
    noPositives,
    '--out',
    path.join(dir, 'o2'),
    '--quiet',
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /qrels: no positive judgements \(grade >= 1\): nothing to train on/);
});
