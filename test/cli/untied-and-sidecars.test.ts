import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { main } from '../../src/cli/main.js';
import { readNpy } from '../../src/data/npy.js';
import { readRun } from '../../src/data/run.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';

const TOPICS = 'river mountain desert ocean forest glacier volcano canyon meadow island swamp tundra'.split(
  ' ',
);

/** A BEIR dataset whose ids are not row numbers (like Cranfield's, which start at 1). */
function beir(dir: string): string {
  const data = path.join(dir, 'beir');
  mkdirSync(path.join(data, 'qrels'), { recursive: true });
  writeFileSync(
    path.join(data, 'corpus.jsonl'),
    TOPICS.map((t, i) =>
      JSON.stringify({ _id: `d${i + 1}`, title: t, text: `the ${t} is near the ${TOPICS[(i + 5) % 12]}` }),
    ).join('\n') + '\n',
  );
  writeFileSync(
    path.join(data, 'queries.jsonl'),
    TOPICS.map((t, i) => JSON.stringify({ _id: String(i + 1), text: `tell me about the ${t}` })).join('\n') +
      '\n',
  );
  const qrels = 'query-id\tcorpus-id\tscore\n' + TOPICS.map((_, i) => `${i + 1}\td${i + 1}\t1`).join('\n');
  writeFileSync(path.join(data, 'qrels', 'train.tsv'), qrels + '\n');
  writeFileSync(path.join(data, 'qrels', 'test.tsv'), qrels + '\n');
  return data;
}

/**
 * Run the CLI in this process (no child start-up cost), capturing stderr. Commands that print to stdout
 * run as a child (`runCli`): stdout carries the test runner's own reports.
 */
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

const dir = tmpDir();
const data = beir(dir);
const untied = path.join(dir, 'untied');
let trained: Promise<void> | undefined;

/** `train --untied --similarity cosine`, once for the tests of this file. */
function trainUntied(): Promise<void> {
  trained ??= (async () => {
    const r = await cli([
      'train',
      ...['--model', `scratch:${tinyConfig(dir)}`, '--data', data, '--out', untied],
      ...['--untied', '--similarity', 'cosine', '--steps', '2', '--batch-size', '4', '--quiet'],
    ]);
    assert.equal(r.code, 0, r.stderr);
  })();
  return trained;
}

test('an untied model encodes from the CLI with --tower, and refuses to guess the tower', async () => {
  await trainUntied();
  const input = path.join(data, 'queries.jsonl');
  const missing = await cli([
    'encode',
    '--model',
    untied,
    '--input',
    input,
    '--output',
    path.join(dir, 'x.npy'),
  ]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /separate query and passage towers \(untied\): give --tower query/);

  const q = path.join(dir, 'q.npy');
  const p = path.join(dir, 'p.npy');
  for (const [tower, file] of [
    ['query', q],
    ['passage', p],
  ]) {
    const r = await cli([
      'encode',
      '--model',
      untied,
      '--tower',
      tower,
      '--input',
      input,
      '--output',
      file,
      '--quiet',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`encoded 12 texts .*\\(${tower} tower, mean pooling`));
  }
  // The towers are different encoders (seeded differently): the same texts get different vectors.
  const [qv, pv] = [await readNpy(q), await readNpy(p)];
  assert.notDeepEqual(qv.data, pv.data);
  // Ids and the model's similarity travel with the vectors.
  assert.deepEqual(
    readFileSync(path.join(dir, 'q.ids.txt'), 'utf8').trim().split('\n'),
    TOPICS.map((_, i) => String(i + 1)),
  );
  const meta = JSON.parse(readFileSync(path.join(dir, 'q.meta.json'), 'utf8'));
  assert.equal(meta.similarity, 'cosine');
  assert.equal(meta.metric, 'cosine');
  assert.equal(meta.tower, 'query');
  assert.equal(meta.rows, 12);
});

test('evaluate-model runs an untied model with its towers and its trained similarity', async () => {
  await trainUntied();
  const r = await runCli([
    'evaluate-model',
    '--model',
    untied,
    '--data',
    data,
    '--split',
    'train',
    '--index',
    'exact',
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  // The default metric is the trained similarity (cosine), not ip.
  assert.match(r.stdout, /12 documents, 12 queries, depth 12, metric cosine/);
  const ip = await runCli([
    ...['evaluate-model', '--model', untied, '--data', data, '--split', 'train'],
    ...['--index', 'exact', '--metric', 'ip', '--quiet'],
  ]);
  assert.equal(ip.code, 0, ip.stderr);
  assert.match(ip.stderr, /warning: --metric ip differs from the similarity .* was trained with \(cosine/);
  assert.match(ip.stdout, /metric ip/);
});

test('index build and index search take ids and metric from the encode sidecars; no ids is an error', async () => {
  await trainUntied();
  const docs = path.join(dir, 'docs.npy');
  const queries = path.join(dir, 'queries.npy');
  let r = await cli([
    ...['encode', '--model', untied, '--tower', 'passage'],
    ...['--input', path.join(data, 'corpus.jsonl'), '--output', docs, '--quiet'],
  ]);
  assert.equal(r.code, 0, r.stderr);
  r = await cli([
    ...['encode', '--model', untied, '--tower', 'query'],
    ...['--input', path.join(data, 'queries.jsonl'), '--output', queries, '--quiet'],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const index = path.join(dir, 'exact.idx');
  r = await cli(['index', 'build', '--vectors', docs, '--type', 'exact', '--out', index, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /exact index of 12 x 16 \(cosine\)/);
  const runFile = path.join(dir, 'exact.run');
  r = await cli(['index', 'search', '--index', index, '--queries', queries, '--k', '5', '--output', runFile]);
  assert.equal(r.code, 0, r.stderr);
  const run = await readRun(runFile);
  // Query ids are the dataset's (1..12), documents' ids are d1..d12: not row numbers.
  assert.deepEqual([...run.keys()].sort(), TOPICS.map((_, i) => String(i + 1)).sort());
  for (const docsOfQuery of run.values()) for (const id of docsOfQuery.keys()) assert.match(id, /^d\d+$/);

  // Vectors without ids: a clear error, numbering only on request.
  const txt = path.join(dir, 'plain.txt');
  writeFileSync(txt, 'a river\na desert\n');
  const plain = path.join(dir, 'plain.npy');
  r = await cli([
    'encode',
    '--model',
    untied,
    '--tower',
    'query',
    '--input',
    txt,
    '--output',
    plain,
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!existsSync(path.join(dir, 'plain.ids.txt')));
  r = await cli(['index', 'search', '--index', index, '--queries', plain, '--k', '3', '--output', runFile]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no query ids for .*plain\.npy: .*plain\.ids\.txt does not exist.*--row-numbers/);
  r = await cli([
    ...['index', 'search', '--index', index, '--queries', plain, '--k', '3'],
    ...['--output', runFile, '--row-numbers'],
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual([...(await readRun(runFile)).keys()].sort(), ['0', '1']);
  r = await cli(['index', 'build', '--vectors', plain, '--type', 'exact', '--out', path.join(dir, 'p.idx')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no ids for .*plain\.npy/);
  // An explicit metric other than the model's is a warning.
  r = await cli([
    ...['index', 'build', '--vectors', docs, '--type', 'exact', '--metric', 'ip'],
    ...['--out', path.join(dir, 'ip.idx'), '--quiet'],
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /warning: --metric ip differs from the model's similarity \(cosine/);
});

test('evaluate-model refuses ef below the depth and repeated ef values instead of printing duplicate rows', async () => {
  const r = await runCli([
    ...['evaluate-model', '--model', `scratch:${tinyConfig(dir)}`, '--data', data, '--split', 'train'],
    ...['--index', 'exact,hnsw', '--ef', '4,8,12', '--k', '10', '--quiet'],
  ]);
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /ef: 4, 8 are below the retrieval depth k = 10/);
  assert.equal(r.stdout, '', 'no table rows');
  const twice = await runCli([
    ...['evaluate-model', '--model', `scratch:${tinyConfig(dir)}`, '--data', data, '--split', 'train'],
    ...['--index', 'hnsw', '--ef', '12,12', '--k', '10', '--quiet'],
  ]);
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /--ef lists 12 twice/);
});

test('a tied model: query ids from encode reach the run (not row numbers), and the dataset scores it', async () => {
  const model = `scratch:${tinyConfig(dir)}`;
  const docs = path.join(dir, 'tied-docs.npy');
  const queries = path.join(dir, 'tied-queries.npy');
  for (const [input, output] of [
    ['corpus.jsonl', docs],
    ['queries.jsonl', queries],
  ]) {
    const r = await cli([
      'encode',
      '--model',
      model,
      '--input',
      path.join(data, input),
      '--output',
      output,
      '--quiet',
    ]);
    assert.equal(r.code, 0, r.stderr);
  }
  const index = path.join(dir, 'tied.idx');
  // Document ids given explicitly here; the query ids are left to the sidecar.
  const docIds = path.join(dir, 'doc-ids.txt');
  writeFileSync(docIds, TOPICS.map((_, i) => `d${i + 1}\n`).join(''));
  let r = await cli([
    ...['index', 'build', '--vectors', docs, '--ids', docIds],
    ...['--type', 'exact', '--out', index, '--quiet'],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const runFile = path.join(dir, 'tied.run');
  r = await cli([
    'index',
    'search',
    '--index',
    index,
    '--queries',
    queries,
    '--k',
    '12',
    '--output',
    runFile,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const run = await readRun(runFile);
  // Query i+1 (row i) must be the query with id i+1: each query's run lists every document, so the
  // judged document is retrieved for every judged query id.
  assert.deepEqual([...run.keys()].sort(), TOPICS.map((_, i) => String(i + 1)).sort());
  for (const [qid, docsOfQuery] of run) assert.ok(docsOfQuery.has(`d${qid}`), qid);
});

test('records whose ids cannot serve (some missing, repeated) get a warning and no ids file, never wrong ids', async () => {
  const input = path.join(dir, 'mixed.jsonl');
  writeFileSync(input, ['{"_id": "a", "text": "one"}', '{"text": "two"}'].join('\n') + '\n');
  const out = path.join(dir, 'mixed.npy');
  const r = await cli([
    'encode',
    '--model',
    `scratch:${tinyConfig(dir)}`,
    '--input',
    input,
    '--output',
    out,
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /warning: the records' ids are not usable, no ids file is written: .*mixed\.jsonl:2: no "_id"/,
  );
  assert.ok(!existsSync(path.join(dir, 'mixed.ids.txt')));
  assert.equal(JSON.parse(readFileSync(path.join(dir, 'mixed.meta.json'), 'utf8')).ids, false);
});

test("tokenize reads an untied model's tower tokenizer, and asks which tower", async () => {
  await trainUntied();
  const input = path.join(data, 'queries.jsonl');
  const r = await runCli(['tokenize', '--model', untied, '--tower', 'query', '--input', input]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split('\n').length, 12);
  assert.ok(JSON.parse(r.stdout.split('\n')[0]).input_ids.length > 2);
  const missing = await runCli(['tokenize', '--model', untied, '--input', input]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /tower: the model has separate query and passage towers/);
});
