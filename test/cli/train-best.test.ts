import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { main } from '../../src/cli/main.js';
import { loadBeir } from '../../src/data/beir.js';
import { loadRetrievalModel } from '../../src/models/load-retrieval-model.js';
import { createEvaluationCallback } from '../../src/train/evaluation-callback.js';
import type { EvaluationRecord } from '../../src/train/eval-log.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';

const TOPICS = 'river mountain desert ocean forest glacier volcano canyon meadow island swamp tundra'.split(
  ' ',
);

/** A small BEIR dataset: 12 documents, 12 queries with one relevant document each, qrels `train` and `dev`. */
export function beir(dir: string): string {
  const data = path.join(dir, 'beir');
  mkdirSync(path.join(data, 'qrels'), { recursive: true });
  const line = (o: object) => JSON.stringify(o);
  writeFileSync(
    path.join(data, 'corpus.jsonl'),
    TOPICS.map((t, i) =>
      line({ _id: `d${i}`, title: t, text: `the ${t} is near the ${TOPICS[(i + 1) % TOPICS.length]}` }),
    ).join('\n') + '\n',
  );
  writeFileSync(
    path.join(data, 'queries.jsonl'),
    TOPICS.map((t, i) => line({ _id: `q${i}`, text: `tell me about the ${t}` })).join('\n') + '\n',
  );
  const qrels = (ids: number[]) =>
    'query-id\tcorpus-id\tscore\n' + ids.map((i) => `q${i}\td${i}\t1`).join('\n') + '\n';
  writeFileSync(path.join(data, 'qrels', 'train.tsv'), qrels(TOPICS.map((_, i) => i)));
  writeFileSync(path.join(data, 'qrels', 'dev.tsv'), qrels([0, 3, 6, 9]));
  return data;
}

/** Run the CLI in this process (no child start-up cost) and capture what it writes to stderr. */
export async function runInProcess(args: string[]): Promise<{ code: number; stderr: string }> {
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

test('--metric and --patience are checked before data or a model loads', async () => {
  const dir = tmpDir();
  const base = ['train', '--model', `scratch:${tinyConfig(dir)}`, '--data', beir(dir), '--quiet'];
  const cases: [string[], RegExp][] = [
    [['--metric', 'ndcg_cut_10'], /--metric needs --eval-split/],
    [['--eval-split', 'dev', '--patience', '2'], /--patience needs --metric/],
    [
      ['--eval-split', 'dev', '--metric', 'bleu'],
      /--metric bleu: not one trec_eval measure .*e\.g\. ndcg_cut_10/,
    ],
    [
      ['--eval-split', 'dev', '--metric', 'ndcg_cut'],
      /--metric ndcg_cut: not one trec_eval measure \(ndcg_cut names 9 measures\)/,
    ],
    [['--eval-split', 'dev', '--metric', 'map', '--patience', '0'], /--patience must be >= 1, got 0/],
  ];
  for (const [extra, message] of cases) {
    const out = path.join(dir, `out-${extra.join('-')}`);
    const r = await runInProcess([...base, '--out', out, ...extra]);
    assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('train --metric --patience: a line per evaluation, eval_log.jsonl, and --out holds the best model', async () => {
  const dir = tmpDir();
  const data = beir(dir);
  const out = path.join(dir, 'out');
  const r = await runInProcess([
    'train',
    '--model',
    `scratch:${tinyConfig(dir)}`,
    '--data',
    data,
    '--out',
    out,
    '--steps',
    '6',
    '--batch-size',
    '4',
    '--lr',
    '5e-3',
    '--eval-split',
    'dev',
    '--eval-every',
    '1',
    '--metric',
    'map',
    '--patience',
    '6',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('eval step'));
  assert.equal(lines.length, 6, r.stderr);
  assert.match(
    lines[0],
    /^eval step 1\/6: ndcg_cut_10 \d\.\d{4}, recall_100 \d\.\d{4}, map \d\.\d{4} \(new best\)$/,
  );
  const history = readFileSync(path.join(out, 'eval_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as EvaluationRecord);
  assert.deepEqual(
    history.map((h) => h.step),
    [1, 2, 3, 4, 5, 6],
  );
  const maps = history.map((h) => h.metrics.map);
  const bestStep = history[maps.indexOf(Math.max(...maps))].step;
  assert.equal(history[5].best?.step, bestStep, 'the first of the maxima is the best');
  const m = r.stderr.match(/saved the best model: step (\d+), map (\d\.\d{4})/);
  assert.ok(m, r.stderr);
  assert.equal(Number(m[1]), bestStep);
  assert.ok(
    readdirSync(path.join(out, 'checkpoints')).includes(`best-step-${String(bestStep).padStart(8, '0')}`),
  );

  // The saved model scores exactly what the best evaluation recorded.
  const dev = await loadBeir(data, { split: 'dev' });
  const model = await loadRetrievalModel(out, { quiet: true });
  try {
    const metrics = await createEvaluationCallback({
      ...dev,
      measures: ['ndcg_cut.10', 'recall.100', 'map'],
    })(model);
    assert.deepEqual(metrics, history.find((h) => h.step === bestStep)!.metrics);
  } finally {
    model.dispose();
  }

  // The model card records the saved (best) evaluation and the whole history.
  const card = readFileSync(path.join(out, 'README.md'), 'utf8');
  const meta = parse(/^---\n([\s\S]*?)\n---\n/.exec(card)![1]) as {
    library_name: string;
    datasets: string[];
    'model-index': {
      results: { dataset: { split: string }; metrics: { type: string; value: number }[] }[];
    }[];
  };
  assert.equal(meta.library_name, 'sentence-transformers');
  assert.deepEqual(meta.datasets, ['beir']);
  const result = meta['model-index'][0].results[0];
  assert.equal(result.dataset.split, 'dev');
  assert.equal(result.metrics.find((m) => m.type === 'map')?.value, maps[bestStep - 1]);
  assert.match(
    card,
    new RegExp(
      `Weights of training step ${bestStep}, the best of the evaluations during training by \`map\``,
    ),
  );
  assert.equal(card.match(/^\| \**\d/gm)?.length, 6, 'six rows of training logs');

  // A README.md of the user's in --out survives a run that replaces the model.
  writeFileSync(path.join(out, 'README.md'), 'my notes\n');
  const again = await runInProcess([
    'train',
    '--model',
    `scratch:${tinyConfig(dir)}`,
    '--data',
    data,
    '--out',
    out,
    '--steps',
    '1',
    '--batch-size',
    '4',
    '--overwrite',
    '--quiet',
  ]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /README\.md is not a model card dense-retrieval wrote: left as it is/);
  assert.equal(readFileSync(path.join(out, 'README.md'), 'utf8'), 'my notes\n');
});
