import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';

const F = path.join(REPO_ROOT, 'test/fixtures/trec_eval');
// Every measure of the parity fixtures (scripts/make_trec_fixtures.py), in the fixtures' (not trec_eval's) order.
const ALL = (
  JSON.parse(readFileSync(path.join(F, 'cranfield.expected.json'), 'utf8')) as { measures: string[] }
).measures;
const MEASURE_ARGS = ALL.flatMap((m) => ['-m', m]);

test('evaluate -q prints exactly the reference trec_eval output on the Cranfield fixture', async () => {
  const r = await runCli([
    'evaluate',
    '--qrels',
    path.join(F, 'cranfield.qrels'),
    '--run',
    path.join(F, 'cranfield.run'),
    ...MEASURE_ARGS,
    '--per-query',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, readFileSync(path.join(F, 'cranfield.expected.txt'), 'utf8'));
});

test('evaluate --complete on BEIR TSV qrels matches the reference -c means', async () => {
  const r = await runCli([
    'evaluate',
    '--qrels',
    path.join(F, 'synthetic.tsv'),
    '--run',
    path.join(F, 'synthetic.run'),
    ...MEASURE_ARGS,
    '--complete',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, readFileSync(path.join(F, 'synthetic.expected-c.txt'), 'utf8'));
});

test('evaluate -q -c also prints the judged queries the run lacks, as trec_eval v10', async () => {
  const r = await runCli([
    'evaluate',
    '--qrels',
    path.join(F, 'cranfield.qrels'),
    '--run',
    path.join(F, 'cranfield.run'),
    ...MEASURE_ARGS,
    '-q',
    '-c',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, readFileSync(path.join(F, 'cranfield.expected-qc.txt'), 'utf8'));
});

test('evaluate -m all_trec prints every supported trec_eval measure in trec_eval order', async () => {
  const r = await runCli([
    'evaluate',
    '--qrels',
    path.join(F, 'cranfield.qrels'),
    '--run',
    path.join(F, 'cranfield.run'),
    '-m',
    'all_trec',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout
    .trimEnd()
    .split('\n')
    .map((l) => l.split('\t'));
  const names = rows.map((row) => row[0].trim());
  assert.deepEqual(names.slice(0, 11), [
    'num_q',
    'num_ret',
    'num_rel',
    'num_rel_ret',
    'map',
    'gm_map',
    'Rprec',
    'bpref',
    'recip_rank',
    'iprec_at_recall_0.00',
    'iprec_at_recall_0.10',
  ]);
  assert.deepEqual(names.slice(-4), ['map_cut_1000', 'success_1', 'success_5', 'success_10']);
  assert.equal(names.length, 61);
  // Counts print as integers and equal the reference's sums (58 of 65 judged queries are in the run).
  const expected = JSON.parse(readFileSync(path.join(F, 'cranfield.expected.json'), 'utf8')) as {
    mean: Record<string, number>;
  };
  for (const key of ['num_q', 'num_ret', 'num_rel', 'num_rel_ret'])
    assert.equal(rows[names.indexOf(key)][2], String(expected.mean[key]));
  for (const key of ['map', 'gm_map', 'Rprec', 'bpref', 'infAP', 'success_5', 'iprec_at_recall_0.50']) {
    assert.equal(Number(rows[names.indexOf(key)][2]).toFixed(4), expected.mean[key].toFixed(4), key);
  }
});

test('evaluate prints the default measures as <measure>\\tall\\t<value> lines', async () => {
  const r = await runCli([
    'evaluate',
    '--qrels',
    path.join(F, 'synthetic.tsv'),
    '--run',
    path.join(F, 'synthetic.run'),
  ]);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout
    .trimEnd()
    .split('\n')
    .map((l) => l.split('\t'));
  assert.deepEqual(
    rows.map((row) => row[0].trim()),
    ['map', 'recip_rank', 'P_10', 'recall_100', 'ndcg_cut_10'], // trec_eval's order, not the -m order
  );
  for (const row of rows) {
    assert.equal(row[1], 'all');
    assert.match(row[2], /^\d\.\d{4}$/);
  }
});

test('evaluate --help describes the options', async () => {
  const r = await runCli(['evaluate', '--help']);
  assert.equal(r.code, 0);
  for (const flag of [
    '--qrels',
    '--run',
    '--measures',
    '--per-query',
    '--complete',
    '--ignore-identical-ids',
  ]) {
    assert.ok(r.stdout.includes(flag), flag);
  }
});

test('evaluate errors are one line and exit non-zero', async () => {
  const qrels = path.join(F, 'synthetic.tsv');
  const run = path.join(F, 'synthetic.run');
  const otherRun = path.join(tmpDir(), 'other.run');
  writeFileSync(otherRun, 'x1 Q0 d1 1 1.0 t\n');
  const cases: [string[], number, RegExp][] = [
    [['--qrels', qrels, '--run', path.join(F, 'missing.run')], 2, /--run: no such file: .*missing\.run/],
    [['--run', run], 2, /missing required option --qrels/],
    [
      ['--qrels', qrels, '--run', run, '-m', 'ndcg@10'],
      2,
      /--measures: unsupported measure 'ndcg@10'; supported:/,
    ],
    [['--qrels', qrels, '--run', run, '--bogus'], 2, /Unknown option '--bogus'/],
    [
      ['--qrels', qrels, '--run', otherRun],
      1,
      /run: no query of the run has judgements in the qrels \(run query ids look like 'x1'\)/,
    ],
    [
      ['--qrels', qrels, '--run', qrels],
      1,
      /synthetic\.tsv:1: expected 6 fields 'qid Q0 docid rank score tag', got 3/,
    ],
  ];
  // Spawned together: each run is mostly CLI start-up time.
  const results = await Promise.all(cases.map(([args]) => runCli(['evaluate', ...args])));
  cases.forEach(([args, code, message], i) => {
    const r = results[i];
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  });
});
