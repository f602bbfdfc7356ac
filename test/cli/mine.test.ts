import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { loadBeir } from '../../src/data/beir.js';
import { runCli } from '../helpers/cli.js';
import { SCIFACT_DIR } from '../helpers/data.js';
import { miniBeir, TINY_BERT } from '../helpers/mini-beir.js';
import { tmpDir } from '../helpers/tmp.js';

const dir = tmpDir();

/** Run the CLI in this process, capturing stderr (failures print nothing to stdout). */
async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const err = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += c.toString()), true)) as typeof err;
  try {
    return { code: await main(args), stderr };
  } finally {
    process.stderr.write = err;
  }
}

const readLines = (file: string) =>
  readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('mine --bm25 on SciFact writes JSONL training lines with scores and prints the totals', async () => {
  const out = path.join(dir, 'bm25.jsonl');
  const args = [
    'mine',
    '--bm25',
    '--data',
    SCIFACT_DIR,
    '--out',
    out,
    '--range-min',
    '1',
    '--range-max',
    '20',
  ];
  const r = await runCli([...args, '--relative-margin', '0.1', '--num-negatives', '2', '--ids', '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const { queries, corpus, qrels } = await loadBeir(SCIFACT_DIR, { split: 'train' });
  const docIds = new Set(corpus.map((d) => d.id));
  const lines = readLines(out);
  const m = /^mined (\d+) negatives for (\d+) queries; wrote (\d+) lines to .* \(with scores\)$/m.exec(
    r.stdout,
  );
  assert.ok(m, r.stdout);
  assert.equal(Number(m[3]), lines.length);
  assert.match(r.stdout, /^skipped \d+ of \d+ candidates \([\d.]+%\) by relativeMargin$/m);
  for (const l of lines) {
    assert.deepEqual(Object.keys(l), ['query_id', 'positive_id', 'negative_ids', 'scores']);
    const qid = l.query_id as string;
    assert.ok(queries.has(qid));
    assert.ok((qrels.get(qid)!.get(l.positive_id as string) ?? 0) >= 1, 'the positive is judged relevant');
    const negatives = l.negative_ids as string[];
    assert.equal(negatives.length, 2);
    for (const n of negatives) {
      assert.ok(docIds.has(n));
      assert.ok((qrels.get(qid)!.get(n) ?? 0) < 1, `${n} is a judged positive of ${qid}`);
    }
    const scores = l.scores as { positive: number; negatives: number[] };
    assert.equal(scores.negatives.length, 2);
    const lowest = Math.min(
      ...lines.filter((o) => o.query_id === qid).map((o) => (o.scores as { positive: number }).positive),
    );
    for (const s of scores.negatives) assert.ok(s <= lowest * 0.9, `${s} > 0.9 x ${lowest}`);
  }

  // The text form of the same run: the same number of lines, texts instead of ids.
  const text = path.join(dir, 'bm25-text.jsonl');
  const again = await runCli([
    'mine',
    '--bm25',
    '--data',
    SCIFACT_DIR,
    '--out',
    text,
    '--num-negatives',
    '1',
  ]);
  assert.equal(again.code, 0, again.stderr);
  const first = readLines(text)[0];
  assert.deepEqual(Object.keys(first), ['query', 'positive', 'negatives', 'scores']);
  assert.equal(typeof first.query, 'string');
});

test('mine --model embeds with the model and writes the negatives of every judged query', async () => {
  const data = await miniBeir(path.join(dir, 'mini'));
  const config = path.join(dir, 'tiny.json');
  writeFileSync(config, JSON.stringify(TINY_BERT));
  const out = path.join(dir, 'dense.jsonl');
  const r = await cli(
    ['mine', '--model', `scratch:${config}`, '--data', data, '--split', 'test', '--out', out].concat([
      '--index',
      'exact',
      '--range-max',
      '8',
      '--num-negatives',
      '2',
      '--max-length',
      '16',
      '--quiet',
    ]),
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /exact index \(40 documents, 6 queries\), similarity dot/);
  const lines = readLines(out);
  assert.equal(lines.length, 6, 'six queries with one positive each');
  for (const l of lines) {
    const negatives = l.negatives as string[];
    assert.equal(negatives.length, 2);
    assert.ok(!negatives.includes(l.positive as string));
    const scores = l.scores as { positive: number; negatives: number[] };
    assert.ok(scores.negatives[0] >= scores.negatives[1], 'best score first');
  }
  // HNSW on request (ef never below the depth), replacing the file with --overwrite.
  const viaHnsw = await cli(
    [
      'mine',
      '--model',
      `scratch:${config}`,
      '--data',
      data,
      '--split',
      'test',
      '--out',
      out,
      '--overwrite',
    ].concat(['--index', 'hnsw', '--ef', '4', '--range-max', '8', '--num-negatives', '2', '--quiet']),
  );
  assert.equal(viaHnsw.code, 0, viaHnsw.stderr);
  assert.match(viaHnsw.stderr, /hnsw index \(40 documents, 6 queries\)/);
  assert.equal(readLines(out).length, 6);
  // An existing output is not replaced without --overwrite.
  const refused = await cli([
    'mine',
    '--model',
    `scratch:${config}`,
    '--data',
    data,
    '--split',
    'test',
    '--out',
    out,
  ]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /--out .* already exists; add --overwrite to replace it/);
});

test('bad flags are usage errors naming the flag', async () => {
  const out = path.join(dir, 'never.jsonl');
  const base = ['mine', '--data', SCIFACT_DIR, '--out', out];
  const cases: [string[], RegExp][] = [
    [['--bm25', '--model', 'x'], /give either --model SRC or --bm25/],
    [[], /give either --model SRC or --bm25/],
    [['--bm25', '--range-min', '5', '--range-max', '5'], /--range-max must be > --range-min \(5\), got 5/],
    [['--bm25', '--range-min=-1'], /--range-min must be >= 0, got -1/],
    [['--bm25', '--num-negatives', '0'], /--num-negatives must be >= 1, got 0/],
    [['--bm25', '--sampling', 'best'], /--sampling must be one of top\|random, got 'best'/],
    [['--bm25', '--relative-margin', 'five'], /--relative-margin expects a number, got 'five'/],
    [['--bm25', '--index', 'hnsw'], /--index applies to --model only, not --bm25/],
    [['--model', 'x', '--index', 'exact', '--ef', '10'], /--ef applies to the HNSW index only/],
    [['--bm25', '--rangemax', '3'], /Unknown option '--rangemax'; did you mean --range-max\?/],
  ];
  for (const [flags, message] of cases) {
    const r = await cli([...base, ...flags]);
    assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const missing = await cli(['mine', '--bm25', '--data', path.join(dir, 'nowhere'), '--out', out]);
  assert.notEqual(missing.code, 0);
  const help = await runCli(['mine', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: dense-retrieval mine \(--model SRC \| --bm25\)/);
});
