import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { loadBeir } from '../../src/data/beir.js';
import { readRun, writeRun } from '../../src/data/run.js';
import { optimizeFusionWeights } from '../../src/eval/fusion-weights.js';
import { compareRuns } from '../../src/eval/significance.js';
import { Bm25Index } from '../../src/index/bm25.js';
import { fuse } from '../../src/index/fuse.js';
import { searchResultToRun } from '../../src/index/result-run.js';
import type { Qrels, Run } from '../../src/types.js';
import { runCli } from '../helpers/cli.js';
import { SCIFACT_DIR } from '../helpers/data.js';
import { tmpDir } from '../helpers/tmp.js';

// Two SciFact runs made quickly: BM25 with Lucene's defaults and BM25 without length normalisation (b = 0),
// which is measurably worse on SciFact's long abstracts.
const dir = tmpDir();
const qrelsFile = path.join(SCIFACT_DIR, 'qrels', 'test.tsv');
const files = { bm25: path.join(dir, 'bm25.trec'), flat: path.join(dir, 'bm25-b0.trec') };
let qrels: Qrels;
const runs = new Map<string, Run>();

before(async () => {
  const data = await loadBeir(SCIFACT_DIR);
  qrels = data.qrels;
  const qids = [...data.queries.keys()];
  const texts = qids.map((q) => data.queries.get(q) as string);
  for (const [name, b] of [
    ['bm25', 0.4],
    ['bm25-b0', 0],
  ] as const) {
    const index = new Bm25Index({ b });
    index.addDocuments(data.corpus);
    const run = searchResultToRun(index.search(texts, 100), qids);
    runs.set(name, run);
    await writeRun(name === 'bm25' ? files.bm25 : files.flat, run, { tag: name });
  }
});

test('compare prints a table with a marker and p-value where a run differs from the baseline; writes Markdown, LaTeX, per-query TSV', async () => {
  const md = path.join(dir, 'table.md');
  const tex = path.join(dir, 'table.tex');
  const diffs = path.join(dir, 'diffs.tsv');
  const r = await runCli([
    'compare',
    '--qrels',
    qrelsFile,
    '--run',
    files.bm25,
    '--run',
    files.flat,
    '-m',
    'ndcg_cut.10,recip_rank,recall.100',
    '--baseline',
    'bm25',
    '--test',
    'randomization',
    '--permutations',
    '2000',
    '--seed',
    '5',
    '--markdown',
    md,
    '--latex',
    tex,
    '--per-query',
    diffs,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0], /^run\s+recip_rank\s+recall_100\s+ndcg_cut_10$/); // trec_eval's measure order
  assert.match(lines[1], /^bm25 \(baseline\)\s/);
  assert.match(lines[2], /^bm25-b0\s/);

  // The same comparison in-process: the CLI prints its means, and marks exactly the significant cells.
  const measures = ['recip_rank', 'recall_100', 'ndcg_cut_10'];
  const expected = measures.map((measure) =>
    compareRuns(qrels, runs, {
      measure,
      baseline: 'bm25',
      test: 'randomization',
      permutations: 2000,
      seed: 5,
    }),
  );
  const cells = lines[2]
    .trim()
    .split(/\s{2,}/)
    .slice(1);
  expected.forEach((c, i) => {
    assert.ok(cells[i].startsWith(c.runs[1].mean.toFixed(4)), `${c.measure}: ${cells[i]}`);
    assert.equal(cells[i].includes('†'), c.pairs[0].significant, `${c.measure} marker: ${cells[i]}`);
  });
  assert.ok(expected[2].runs[1].mean < expected[2].runs[0].mean, 'b = 0 is worse on nDCG@10');
  assert.ok(
    expected.some((c) => c.pairs[0].significant),
    'at least one measure differs significantly',
  );
  assert.match(
    r.stdout,
    /† differs from bm25 at p < 0\.05 \(randomization, holm correction over 1 comparison per measure; 300 queries\)/,
  );

  const markdown = readFileSync(md, 'utf8');
  assert.match(
    markdown,
    /^\| run \| recip_rank \| recall_100 \| ndcg_cut_10 \|\n\| --- \| ---: \| ---: \| ---: \|\n/,
  );
  assert.match(
    markdown,
    new RegExp(`\\| bm25 \\(baseline\\) \\| \\*\\*${expected[0].runs[0].mean.toFixed(4)}\\*\\*`),
  );
  const latex = readFileSync(tex, 'utf8');
  assert.match(
    latex,
    /^\\begin\{tabular\}\{lrrr\}\n\\toprule\nRun & recip\\_rank & recall\\_100 & ndcg\\_cut\\_10 \\\\\n/,
  );
  assert.match(latex, /bm25-b0 & .*\$\^\{\\dagger\}\$/);

  const tsv = readFileSync(diffs, 'utf8').trimEnd().split('\n');
  assert.equal(tsv[0], 'measure\tqid\tbaseline\trun\tbaseline_score\trun_score\tdifference');
  assert.equal(tsv.length, 1 + 3 * expected[0].queries.length);
  const [measure, qid, , , b, s, d] = tsv[1].split('\t');
  const c = expected[0];
  assert.equal(measure, 'recip_rank');
  assert.equal(qid, c.queries[0]);
  assert.equal(Number(b), c.runs[0].perQuery[0]);
  assert.equal(Number(s), c.runs[1].perQuery[0]);
  assert.equal(Number(d), c.runs[1].perQuery[0] - c.runs[0].perQuery[0]);
});

test('fuse writes the run the library computes (combmnz over min-max)', async () => {
  const out = path.join(dir, 'fused.trec');
  const r = await runCli([
    'fuse',
    '--run',
    files.bm25,
    '--run',
    files.flat,
    '--method',
    'combmnz',
    '--norm',
    'min-max',
    '--output',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const written = await readRun(out);
  const expected = fuse([await readRun(files.bm25), await readRun(files.flat)], {
    method: 'combmnz',
    norm: 'min-max',
  });
  assert.equal(written.size, expected.size);
  for (const [qid, docs] of expected) {
    const got = written.get(qid) as Map<string, number>;
    assert.equal(got.size, docs.size);
    for (const [docid, score] of docs) assert.equal(got.get(docid), score, `${qid} ${docid}`);
  }
  assert.match(readFileSync(out, 'utf8'), / combmnz\n/);
});

test('fuse --method wsum --train-qrels fits the weights as optimizeFusionWeights does', async () => {
  const out = path.join(dir, 'wsum.trec');
  const r = await runCli([
    'fuse',
    '--run',
    files.bm25,
    '--run',
    files.flat,
    '--method',
    'wsum',
    '--train-qrels',
    qrelsFile,
    '--measure',
    'ndcg_cut.10',
    '--step',
    '0.25',
    '--output',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const inputs = [await readRun(files.bm25), await readRun(files.flat)];
  const fitted = optimizeFusionWeights(qrels, inputs, 'ndcg_cut.10', { step: 0.25 });
  assert.ok(
    r.stderr.includes(`fuse: weights ${fitted.weights.join(',')} (ndcg_cut.10 ${fitted.score.toFixed(4)}`),
  );
  const expected = fuse(inputs, { method: 'wsum', weights: fitted.weights });
  const written = await readRun(out);
  for (const [qid, docs] of expected) {
    for (const [docid, score] of docs) assert.equal(written.get(qid)?.get(docid), score, `${qid} ${docid}`);
  }
});

test('compare and fuse usage errors name the option', async () => {
  const cases: [string[], RegExp][] = [
    [['compare', '--qrels', qrelsFile, '--run', files.bm25], /--run: give at least two runs to compare/],
    [
      ['compare', '--qrels', qrelsFile, '--run', files.bm25, '--run', files.flat, '--baseline', 'x'],
      /--baseline: 'x' is not a run name \(bm25, bm25-b0\)/,
    ],
    [
      ['compare', '--qrels', qrelsFile, '--run', files.bm25, '--run', files.flat, '--test', 'sign'],
      /--test must be one of paired-t\|randomization\|wilcoxon/,
    ],
    [
      ['compare', '--qrels', qrelsFile, '--run', files.bm25, '--run', `bm25=${files.flat}`],
      /two runs are named 'bm25'/,
    ],
    [
      [
        'fuse',
        '--run',
        files.bm25,
        '--run',
        files.flat,
        '--output',
        'x',
        '--method',
        'rrf',
        '--weights',
        '1,2',
      ],
      /--weights and --train-qrels need --method wsum, not rrf/,
    ],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args)));
  cases.forEach(([args, pattern], i) => {
    assert.equal(results[i].code, 2, `${args.join(' ')}: ${results[i].stderr}`);
    assert.match(results[i].stderr, pattern);
  });
});
