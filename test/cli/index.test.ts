import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readRun } from '../../src/data/run.js';
import { rankDocuments } from '../../src/eval/metrics.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { FIXTURES, fixtureJson, randomMatrix } from '../index/helpers.js';
import { writeNpy } from '../../src/data/npy.js';

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
  assert.match(
    r.stderr,
    /--M, --ef-construction, --ef-search and --mips-transform apply to --type hnsw only/,
  );
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
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /x\.idx: truncated index file/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
});

test('issue 12: index build --mips-transform picks the ip graph, names it, and warns when its recall is low', async () => {
  const dir = tmpDir();
  // The input: 3,000 x 32 Gaussian rows scaled by uniform(0.2, 5).
  const n = 3000;
  const d = 32;
  const base = randomMatrix(n, d, 81);
  const scales = randomMatrix(n, 1, 82);
  for (let r = 0; r < n; r++) {
    const s = 0.2 + 4.8 * (0.5 + 0.5 * Math.tanh(scales.data[r]));
    for (let j = 0; j < d; j++) base.data[r * d + j] *= s;
  }
  const npy = path.join(dir, 'v.npy');
  await writeNpy(npy, base);
  const idFile = path.join(dir, 'ids.txt');
  await fs.writeFile(idFile, Array.from({ length: n }, (_, i) => `d${i}`).join('\n') + '\n');
  const build = (extra: string[]) =>
    runCli([
      'index',
      'build',
      '--vectors',
      npy,
      '--ids',
      idFile,
      '--type',
      'hnsw',
      '--metric',
      'ip',
      '--M',
      '16',
      '--ef-construction',
      '100',
      '--ef-search',
      '64',
      '--out',
      path.join(dir, 'x.hnsw'),
      '--quiet',
      ...extra,
    ]);
  const auto = await build([]);
  assert.equal(auto.code, 0, auto.stderr);
  assert.match(auto.stderr, /\(ip, graph: hnswlib's ip space\)/);
  assert.doesNotMatch(auto.stderr, /warning/);
  const forced = await build(['--mips-transform', 'on']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(forced.stderr, /graph: MIPS-to-L2 reduction/);
  assert.match(
    forced.stderr,
    /warning: recall@10 vs exact search is 0\.\d+ at ef 64 \(100 documents as queries; < 0\.95\): raise --ef-search, or the other graph \(--mips-transform off\)/,
  );
  const bad = await runCli([
    'index',
    'build',
    '--vectors',
    npy,
    '--ids',
    idFile,
    '--type',
    'exact',
    '--mips-transform',
    'on',
    '--out',
    path.join(dir, 'y'),
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--mips-transform apply to --type hnsw only/);
});
