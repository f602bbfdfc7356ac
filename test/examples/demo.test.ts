import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import * as tf from '@tensorflow/tfjs';
import { positiveOverlap } from '../../examples/demo/data.js';
import { DEFAULT_DATA, LR, parseDemoArgs } from '../../examples/demo/options.js';
import { runDemo } from '../../examples/demo/run.js';
import type { MethodRow } from '../../examples/demo/study.js';
import { ArgumentError, currentBackend, initBackend, loadModel, readQrels } from '../../src/index.js';
import type { Qrels } from '../../src/index.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const qrels = (entries: Record<string, Record<string, number>>): Qrels =>
  new Map(Object.entries(entries).map(([q, d]) => [q, new Map(Object.entries(d))]));

test('parseDemoArgs: defaults, --quick and every bad flag named', () => {
  const full = parseDemoArgs([])!;
  assert.equal(full.quick, false);
  assert.equal(full.out, 'demo-output');
  assert.ok(full.model.startsWith('scratch:'));
  assert.equal(full.lr, LR.scratch);
  const quick = parseDemoArgs(['--quick', '--steps', '3', '--batch-size', '4', '--out', 'x'])!;
  assert.deepEqual([quick.quick, quick.steps, quick.batchSize, quick.out], [true, 3, 4, 'x']);
  assert.ok(quick.steps < full.steps);

  const fails = (argv: string[], message: RegExp): void =>
    assert.throws(
      () => parseDemoArgs(argv),
      (e: unknown) => e instanceof ArgumentError && message.test(e.message),
    );
  fails(['--stpes', '3'], /^arguments: Unknown option '--stpes'/);
  fails(['--steps', 'ten'], /^--steps: expects an integer, got 'ten'$/);
  fails(['--steps', '0'], /^--steps: must be >= 1, got 0$/);
  fails(['--batch-size', '1'], /^--batch-size: must be >= 2, got 1$/);
  fails(['--lr', '0'], /^--lr: expects a positive number, got '0'$/);
  fails(['--model', 'scratch:/nope/config.json'], /^--model: no such config file: \/nope\/config.json$/);
  fails(
    ['--model', 'sentence-transformers/all-MiniLM-L6-v2'],
    /^--model: 'sentence-transformers\/all-MiniLM-L6-v2' is not a local checkpoint directory; the demo runs offline/,
  );
  fails(['--data', '/nope/scifact'], /^--data: no such directory: \/nope\/scifact$/);
});

test('positiveOverlap counts test positives seen in training and keeps the unseen queries', async () => {
  const train = qrels({ t1: { a: 1, b: 1 }, t2: { c: 1, z: 0 } });
  const test = qrels({
    q1: { a: 1, d: 1 },
    q2: { d: 1, e: 1 },
    q3: { z: 1 },
    q4: { b: 0, f: 1 },
    q5: { c: 0 },
  });
  const o = positiveOverlap(train, test);
  // a is a train positive; z has grade 0 in training, so it is not; q5 has no positive at all.
  assert.equal(o.testPositives, 6);
  assert.equal(o.alsoTrainPositives, 1);
  assert.deepEqual([...o.unseenQrels.keys()], ['q2', 'q3', 'q4']);

  // The real SciFact splits: the numbers the demo's honesty note rests on (docs/training.md: 216 of 339).
  const real = positiveOverlap(
    await readQrels(path.join(DEFAULT_DATA, 'qrels', 'train.tsv')),
    await readQrels(path.join(DEFAULT_DATA, 'qrels', 'test.tsv')),
  );
  assert.deepEqual([real.alsoTrainPositives, real.testPositives, real.unseenQrels.size], [216, 339, 104]);
});

const ROW_KEYS: MethodRow['key'][] = [
  'bm25',
  'untrained',
  'exact',
  'matryoshka',
  'hnsw-default',
  'int8-rescore',
  'binary-rescore',
  'hybrid',
];

test('demo --quick: report with every row, finite numbers, plots and model; no tensor leak', async () => {
  await initBackend();
  const out = path.join(tmpDir('demo-'), 'out');
  const before = tf.memory().numTensors;
  const done = await runDemo(['--quick', '--quiet', '--out', out]);
  assert.equal(tf.memory().numTensors, before);
  assert.ok(done);
  const { result } = done;
  assert.equal(result.tensors.after, result.tensors.before);

  const report = readFileSync(path.join(out, 'report.md'), 'utf8');
  const keys = result.rows.map((r) => r.key);
  for (const key of ROW_KEYS) assert.ok(keys.includes(key), `row ${key}`);
  // The sweep always includes ef = k = 10, far below the default: the "too low" row or, if even that
  // reaches the target on this tiny subset, the tuned row shows it.
  assert.ok(keys.includes('hnsw-low') || result.hnsw.tunedEf === 10);
  for (const row of result.rows) {
    for (const v of [row.ndcg10, row.mrr10, row.recall100, row.recallVsExact ?? 0]) {
      assert.ok(Number.isFinite(v) && v >= 0 && v <= 1, `${row.name}: ${v}`);
    }
    const approximate = row.key.startsWith('hnsw') || row.key.endsWith('-rescore');
    assert.equal(row.recallVsExact !== undefined, approximate, row.name);
    // Each row appears in the report's table with its nDCG@10 x100 as computed.
    assert.ok(report.includes(`| ${row.name} | ${(100 * row.ndcg10).toFixed(2)} |`), row.name);
    // Every row but BM25 carries its Holm-corrected paired t-test on nDCG@10 against BM25.
    if (row.key === 'bm25') assert.equal(row.vsBm25, undefined);
    else assert.ok(row.vsBm25!.pValue >= 0 && row.vsBm25!.pValue <= 1, row.name);
    assert.equal(row.vsBm25?.significant === true, row.vsBm25 !== undefined && row.vsBm25.pValue < 0.05);
  }
  assert.ok(report.includes('| p vs BM25 (nDCG@10) |'));
  assert.doesNotMatch(report, /NaN|Infinity|undefined/);
  assert.match(report, /\(--quick\)/);
  assert.ok(report.includes(`Backend: **${currentBackend()}**`));
  assert.match(report, /never a judged positive of the query: 0 were\)/);
  assert.match(
    report,
    new RegExp(
      `\\*\\*${result.overlap.alsoTrainPositives} of the ${result.overlap.testPositives} test positives`,
    ),
  );

  // HNSW at ef=512 on a couple of hundred documents finds what exact search finds; the sweep is monotone
  // enough that the tuned ef meets the target it was picked for.
  const row = (k: MethodRow['key']) => result.rows.find((r) => r.key === k)!;
  assert.ok(row('hnsw-default').recallVsExact! >= 0.99);
  if (result.hnsw.tunedEf !== undefined) {
    assert.ok(result.hnsw.sweep.find((p) => p.ef === result.hnsw.tunedEf)!.recall10 >= 0.99);
    assert.ok(result.hnsw.sweep.filter((p) => p.ef < result.hnsw.tunedEf!).every((p) => p.recall10 < 0.99));
  }
  assert.equal(result.training.history.length, result.training.steps);

  // The model carries its card; the report quotes its front matter and evaluation table.
  const card = readFileSync(path.join(out, 'model', 'README.md'), 'utf8');
  const front = /^---\n([\s\S]*?)\n---\n/.exec(card)![1];
  const meta = parse(front, { strict: true }) as {
    library_name: string;
    tags: string[];
    'model-index': { results: { metrics: { type: string; value: number }[] }[] }[];
  };
  assert.equal(meta.library_name, 'sentence-transformers');
  assert.ok(meta.tags.includes('loss:MatryoshkaLoss'), 'the card names the loss the study trained with');
  assert.deepEqual(
    meta['model-index'][0].results[0].metrics.map((x) => [x.type, x.value]),
    [
      ['ndcg_cut_10', row('exact').ndcg10],
      ['recall_100', row('exact').recall100],
    ],
  );
  assert.ok(report.includes(`## Model card`));
  assert.ok(report.includes(`\`\`\`yaml\n${front}\n\`\`\``), 'the front matter, quoted');
  assert.ok(report.includes(`| ndcg_cut_10 | ${row('exact').ndcg10.toFixed(4)} |`));
  assert.ok(result.training.history.every((h) => Number.isFinite(h.loss) && h.lr >= 0));
  // Warmup-cosine: the schedule reaches the peak learning rate after warmup, then decays.
  const lrs = result.training.history.map((h) => h.lr);
  assert.ok(Math.abs(Math.max(...lrs) - result.training.lr) < 1e-12);
  assert.ok(lrs.at(-1)! < result.training.lr);
  assert.equal(result.training.judgedPositivesAmongNegatives, 0);
  // One Matryoshka-trained model: a row per truncated width, holding that many float32s per vector.
  const [full, ...cut] = result.training.matryoshkaDims;
  assert.equal(full, 64);
  assert.deepEqual(
    result.rows.filter((r) => r.key === 'matryoshka').map((r) => r.bytesPerVector),
    cut.map((d) => 4 * d),
  );
  assert.match(
    report,
    /The Matryoshka rows search the first dimensions .*: 32 dims \(50% of the bytes\) keep/,
  );

  for (const svg of ['loss.svg', 'lr.svg', 'recall-qps.svg']) {
    const text = readFileSync(path.join(out, svg), 'utf8');
    assert.match(text, /^<svg [^>]*>[\s\S]*<path d="M[\d.]+,[\d.]+ /, svg);
    assert.doesNotMatch(text, /NaN/, svg);
  }
  assert.match(readFileSync(path.join(out, 'recall-qps.svg'), 'utf8'), />ef=10</);
  const log = readFileSync(path.join(out, 'train_log.jsonl'), 'utf8').trim().split('\n');
  assert.equal(log.length, result.training.steps);
  assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')).rows, result.rows);

  // The saved model loads back, and `--model DIR` fine-tunes it as a pretrained checkpoint.
  const encoder = await loadModel(path.join(out, 'model'), { quiet: true });
  assert.equal(encoder.dim, result.model.hiddenSize);
  encoder.dispose();
  const again = path.join(path.dirname(out), 'again');
  const second = await runDemo([
    '--quick',
    '--quiet',
    '--out',
    again,
    '--steps',
    '2',
    '--model',
    path.join(out, 'model'),
  ]);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(second!.result.model.fromScratch, false);
  assert.equal(second!.result.training.lr, LR.pretrained);
  assert.equal(
    second!.result.rows.find((r) => r.key === 'untrained')!.name,
    'pretrained, not fine-tuned, exact',
  );
  assert.ok(existsSync(path.join(again, 'report.md')));
});

test('npm run demo: a bad flag exits 2 with one line naming it; --help prints the usage', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'examples/demo.ts'), ...args], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
  const bad = run(['--steps', 'many']);
  assert.equal(bad.status, 2);
  assert.equal(bad.stderr, "demo: --steps: expects an integer, got 'many'\n");
  const help = run(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^Usage: npm run demo -- \[options\]/);
  assert.match(help.stdout, /--model SRC/);
});
