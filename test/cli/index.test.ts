import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readRun } from '../../src/data/run.js';
import { rankDocuments } from '../../src/eval/metrics.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { FIXTURES, fixtureJson } from '../index/helpers.js';

const vectors = path.join(FIXTURES, 'docs.npy');
const queries = path.join(FIXTURES, 'queries.npy');
const docIds = path.join(FIXTURES, 'doc-ids.txt');

interface Expected {
  ip: { ids: string[] }[];
}

test('index build + search (exact) writes the run numpy brute force predicts', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'docs.exact');
  const b = await runCli([
    'index',
    'build',
    '--vectors',
    vectors,
    '--ids',
    docIds,
    '--type',
    'exact',
    '--out',
    out,
  ]);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /exact index of 300 x 16 \(ip\)/);
  const qids = path.join(dir, 'qids.txt');
  await fs.writeFile(qids, Array.from({ length: 12 }, (_, i) => `Q${i}`).join('\n') + '\n');
  const runFile = path.join(dir, 'exact.run');
  const s = await runCli([
    'index',
    'search',
    '--index',
    out,
    '--queries',
    queries,
    '--k',
    '10',
    '--output',
    runFile,
    '--query-ids',
    qids,
  ]);
  assert.equal(s.code, 0, s.stderr);
  const run = await readRun(runFile);
  const expected = fixtureJson<Expected>('exact-topk.json');
  expected.ip.forEach((e, q) => assert.deepEqual(rankDocuments(run.get(`Q${q}`)!), e.ids));
  assert.match(await fs.readFile(runFile, 'utf8'), /^Q0 Q0 doc033 1 \S+ exact$/m);
});

test('index build + search (hnsw) with row-number query ids and --ef', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'docs.hnsw');
  const b = await runCli([
    'index',
    'build',
    '--vectors',
    vectors,
    '--ids',
    docIds,
    '--type',
    'hnsw',
    '--metric',
    'cosine',
    '--M',
    '8',
    '--ef-construction',
    '64',
    '--out',
    out,
  ]);
  assert.equal(b.code, 0, b.stderr);
  const runFile = path.join(dir, 'hnsw.run');
  const s = await runCli([
    'index',
    'search',
    '--index',
    out,
    '--queries',
    queries,
    '--k',
    '5',
    '--ef',
    '300',
    '--output',
    runFile,
    '--row-numbers',
  ]);
  assert.equal(s.code, 0, s.stderr);
  const run = await readRun(runFile);
  assert.deepEqual([...run.keys()].sort(), Array.from({ length: 12 }, (_, i) => String(i)).sort());
  const expected = fixtureJson<{ cosine: { ids: string[] }[] }>('exact-topk.json');
  // ef = 300 = the corpus size: the beam sees everything, so the result is exact.
  expected.cosine.forEach((e, q) => assert.deepEqual(rankDocuments(run.get(String(q))!), e.ids.slice(0, 5)));
});

test('index commands fail with one clear line on bad input', async () => {
  const dir = tmpDir();
  const shortIds = path.join(dir, 'ids.txt');
  await fs.writeFile(shortIds, 'a\nb\n');
  const out = path.join(dir, 'x.idx');
  let r = await runCli([
    'index',
    'build',
    '--vectors',
    vectors,
    '--ids',
    shortIds,
    '--type',
    'exact',
    '--out',
    out,
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ids\.txt: has 2 ids but .*docs\.npy has 300 rows/);
  await fs.writeFile(shortIds, 'a\n\nb\n');
  r = await runCli([
    'index',
    'build',
    '--vectors',
    vectors,
    '--ids',
    shortIds,
    '--type',
    'exact',
    '--out',
    out,
  ]);
  assert.match(r.stderr, /ids\.txt:2: empty id/);
  r = await runCli(['index', 'build', '--vectors', vectors, '--ids', docIds, '--type', 'ivf', '--out', out]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--type must be one of exact\|hnsw, got 'ivf'/);
  r = await runCli([
    'index',
    'build',
    '--vectors',
    vectors,
    '--ids',
    docIds,
    '--type',
    'exact',
    '--M',
    '8',
    '--out',
    out,
  ]);
  assert.match(r.stderr, /--M, --ef-construction and --ef-search apply to --type hnsw only/);
  r = await runCli([
    'index',
    'build',
    '--vectors',
    vectors,
    '--ids',
    docIds,
    '--type',
    'exact',
    '--out',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  r = await runCli([
    'index',
    'search',
    '--index',
    out,
    '--queries',
    queries,
    '--k',
    '10',
    '--ef',
    '50',
    '--output',
    path.join(dir, 'r'),
    '--row-numbers',
  ]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--ef applies to hnsw indexes only/);
  r = await runCli([
    'index',
    'search',
    '--index',
    out,
    '--queries',
    queries,
    '--k',
    '301',
    '--output',
    path.join(dir, 'r'),
    '--row-numbers',
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /k: k = 301 exceeds the number of indexed vectors \(300\)/);
  r = await runCli([
    'index',
    'search',
    '--index',
    out,
    '--queries',
    path.join(FIXTURES, 'f32.npy'),
    '--k',
    '1',
    '--output',
    path.join(dir, 'r'),
    '--row-numbers',
  ]);
  assert.match(r.stderr, /queries: dimension mismatch: vectors have 4 dimensions, the index has 16/);
  const bytes = await fs.readFile(out);
  await fs.writeFile(out, bytes.subarray(0, 200));
  r = await runCli([
    'index',
    'search',
    '--index',
    out,
    '--queries',
    queries,
    '--k',
    '1',
    '--output',
    path.join(dir, 'r'),
    '--row-numbers',
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /x\.idx: truncated index file/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});
