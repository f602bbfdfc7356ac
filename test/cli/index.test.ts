import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readNpy } from '../../src/data/npy.js';
import { readRun } from '../../src/data/run.js';
import { rankDocuments } from '../../src/eval/metrics.js';
import { HnswIndex, defaultEfSearch } from '../../src/index/hnsw.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { rawContainer, rewriteContainer } from '../index/container-helpers.js';
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
  // The settings that will run are printed, the size-dependent beam marked as such.
  assert.match(
    b.stderr,
    new RegExp(
      `hnsw M 8, ef-construction 64, ef-search ${defaultEfSearch(300, 10, 8)} \\(the default for 300 vectors`,
    ),
  );
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
  assert.match(s.stderr, /top 5 \(hnsw ef 300\) ->/);
  // Without --ef the index's own beam runs, and the line says which.
  const d = await runCli([
    'index',
    'search',
    '--index',
    out,
    '--queries',
    queries,
    '--k',
    '5',
    '--output',
    runFile,
    '--row-numbers',
  ]);
  assert.equal(d.code, 0, d.stderr);
  assert.match(
    d.stderr,
    new RegExp(`top 5 \\(hnsw ef ${defaultEfSearch(300, 5, 8)}, the default for 300 vectors\\)`),
  );
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
  assert.match(r.stderr, /--type must be one of exact\|hnsw\|int8\|binary\|pgvector, got 'ivf'/);
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
  assert.match(r.stderr, /--M, --ef-construction and --ef-search apply to --type hnsw and pgvector only/);
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
  assert.match(r.stderr, /--ef applies to hnsw and pgvector indexes only/);
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

test('index build refuses an id with whitespace, naming the id, the file and the line', async () => {
  const dir = tmpDir();
  const ids = path.join(dir, 'ids.txt');
  const lines = (await fs.readFile(docIds, 'utf8')).split('\n');
  lines[4] = 'doc 4';
  await fs.writeFile(ids, lines.join('\n'));
  const out = path.join(dir, 'x.idx');
  const r = await runCli([
    'index',
    'build',
    '--vectors',
    vectors,
    '--ids',
    ids,
    '--type',
    'exact',
    '--out',
    out,
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ids\.txt:5: id "doc 4" contains whitespace/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  await assert.rejects(fs.access(out), 'no index was written');
});

test('index search on damaged index files exits 1 with one typed line, never with a signal', async () => {
  const dir = tmpDir();
  const good = path.join(dir, 'good.hnsw');
  const index = new HnswIndex({ dim: 16, metric: 'l2', M: 8 });
  await index.add(await readNpy(vectors), (await fs.readFile(docIds, 'utf8')).trim().split('\n'));
  await index.save(good);
  const search = (file: string, run: string) =>
    runCli([
      'index',
      'search',
      '--index',
      file,
      '--queries',
      queries,
      '--k',
      '3',
      '--row-numbers',
      '--output',
      run,
    ]);
  const ok = await search(good, path.join(dir, 'good.run'));
  assert.equal(ok.code, 0, ok.stderr);

  const entry = path.join(dir, 'entry.hnsw');
  await rewriteContainer(good, entry, (_h, s) =>
    new DataView(s.graph.buffer).setUint32(52, 0x0fffffff, true),
  );
  const capacity = path.join(dir, 'capacity.hnsw');
  await rewriteContainer(good, capacity, (_h, s) =>
    new DataView(s.graph.buffer).setBigUint64(8, 2n ** 50n, true),
  );
  const headerLen = path.join(dir, 'header-len.hnsw');
  const bytes = await fs.readFile(good);
  bytes.writeUInt32LE(0xffffffff, 12);
  await fs.writeFile(headerLen, bytes);
  const sections = path.join(dir, 'sections.hnsw');
  await fs.writeFile(sections, rawContainer({ kind: 'hnsw', sections: 5 }));
  const cases: [string, RegExp][] = [
    [entry, /entry\.hnsw: corrupt hnsw graph: entry point 268435455 is not an element/],
    [headerLen, /header-len\.hnsw: truncated index file: header length 4294967295 exceeds/],
    [sections, /sections\.hnsw: corrupt index file: header field 'sections' must be a list, got 5/],
  ];
  for (const [file, re] of cases) {
    const r = await search(file, path.join(dir, 'bad.run'));
    assert.equal(r.code, 1, `${file}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  }
  // A capacity of 2^50 is only an allocation size: the index loads and answers exactly as before.
  const big = await search(capacity, path.join(dir, 'capacity.run'));
  assert.equal(big.code, 0, big.stderr);
  assert.equal(
    await fs.readFile(path.join(dir, 'capacity.run'), 'utf8'),
    await fs.readFile(path.join(dir, 'good.run'), 'utf8'),
  );
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
  assert.match(auto.stderr, /hnsw M 16, ef-construction 100, ef-search 64\n/);
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
  assert.match(bad.stderr, /--mips-transform applies to --type hnsw only/);
});
