import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readNpy } from '../../src/data/npy.js';
import { readRun } from '../../src/data/run.js';
import { rankDocuments } from '../../src/eval/metrics.js';
import { ExactIndex } from '../../src/index/exact.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { truncateEmbeddings } from '../../src/util/truncate.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { FIXTURES } from '../index/helpers.js';

const vectors = path.join(FIXTURES, 'docs.npy');
const queries = path.join(FIXTURES, 'queries.npy');
const docIds = path.join(FIXTURES, 'doc-ids.txt');

test('index build --type binary --truncate-dim + index search --filter-ids: the exact filtered top-k', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'docs.bin');
  const b = await runCli([
    'index',
    'build',
    '--vectors',
    vectors,
    '--ids',
    docIds,
    '--type',
    'binary',
    '--truncate-dim',
    '12',
    '--keep-vectors',
    '--rescore-multiplier',
    '100',
    '--out',
    out,
  ]);
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /binary index of 300 x 12 \(ip\)/);
  const allowFile = path.join(dir, 'allow.txt');
  const allowed = Array.from({ length: 300 }, (_, i) => `doc${String(i).padStart(3, '0')}`).filter(
    (_, i) => i % 3 === 0,
  );
  await fs.writeFile(allowFile, allowed.join('\n') + '\n');
  const runFile = path.join(dir, 'bin.run');
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
    '--filter-ids',
    allowFile,
    '--row-numbers',
  ]);
  assert.equal(s.code, 0, s.stderr);
  const run = await readRun(runFile);
  // Reference: exact search over the truncated vectors, filtered the same way.
  const docs = await readNpy(vectors);
  const q = await readNpy(queries);
  const names = (await fs.readFile(docIds, 'utf8')).trim().split('\n');
  const exact = new ExactIndex({ dim: 12 });
  await exact.add(truncateEmbeddings(docs, 12, false), names);
  const keep = new Set(allowed);
  const want = await exact.search(truncateEmbeddings(q, 12, false), 10, { filter: (id) => keep.has(id) });
  want.ids.forEach((ids, i) => assert.deepEqual(rankDocuments(run.get(String(i))!), ids));
  assert.match(await fs.readFile(runFile, 'utf8'), / binary$/m);
  const bad = await runCli([
    'index',
    'build',
    '--vectors',
    vectors,
    '--ids',
    docIds,
    '--type',
    'exact',
    '--keep-vectors',
    '--out',
    out,
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--keep-vectors apply to --type int8\|binary only/);
});

test('index build --target-recall tunes M and ef on held-out documents and stores them', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'tuned.hnsw');
  const b = await runCli([
    'index',
    'build',
    '--vectors',
    vectors,
    '--ids',
    docIds,
    '--type',
    'hnsw',
    '--target-recall',
    '0.9',
    '--out',
    out,
    '--quiet',
  ]);
  assert.equal(b.code, 0, b.stderr);
  const m =
    /tuned M=(\d+) space=(\S+) ef=(\d+): recall@10 (\S+) \(95 % lower bound (\S+)\) on 30 held-out documents; target 0\.9 met/.exec(
      b.stderr,
    );
  assert.ok(m, b.stderr);
  const index = await HnswIndex.load(out);
  assert.equal(index.size, 300);
  assert.equal(index.M, Number(m[1]));
  assert.equal(index.tuning!.space, m[2]);
  assert.equal(index.efSearch, Number(m[3]));
  assert.ok(index.tuning!.recallLowerBound >= 0.9);
  // Every graph built is printed and stored (under ip: both spaces at each M tried).
  const tried = /tried (.*)/.exec(b.stderr)![1].split('; ');
  assert.equal(tried.length, index.tuning!.candidates!.length);
  if (index.metric === 'ip') {
    assert.deepEqual(
      index
        .tuning!.candidates!.filter((c) => c.M === index.M)
        .map((c) => c.space)
        .sort(),
      ['ip', 'l2-reduction'],
    );
  }
  const bad = await runCli([
    'index',
    'build',
    '--vectors',
    vectors,
    '--ids',
    docIds,
    '--type',
    'exact',
    '--target-recall',
    '0.9',
    '--out',
    out,
  ]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--target-recall applies to --type hnsw/);
});

test('index build --type hnsw --truncate-dim: the build-time recall check compares with truncated exact search', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'trunc.hnsw');
  const b = await runCli([
    'index',
    'build',
    '--vectors',
    vectors,
    '--ids',
    docIds,
    '--type',
    'hnsw',
    '--truncate-dim',
    '4',
    '--out',
    out,
  ]);
  assert.equal(b.code, 0, b.stderr);
  // A full-width reference ranked other neighbours than the 4-d graph and warned of a recall near 0.3.
  assert.doesNotMatch(b.stderr, /recall@10 vs exact search/);
  const index = await HnswIndex.load(out);
  const docs = await readNpy(vectors);
  const names = (await fs.readFile(docIds, 'utf8')).trim().split('\n');
  const exact = new ExactIndex({ dim: docs.cols, truncateDim: 4, metric: index.metric });
  await exact.add(docs, names);
  const q = await readNpy(queries);
  const got = await index.search(q, 10);
  const want = await exact.search(q, 10);
  let hits = 0;
  got.ids.forEach((list, i) => (hits += list.filter((id) => want.ids[i].includes(id)).length));
  assert.ok(hits / (10 * q.rows) >= 0.9, `recall ${hits / (10 * q.rows)}`);
});

test('index search: --index naming a directory, and --filter-ids matching no indexed id, are reported', async () => {
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
  const search = (...extra: string[]) =>
    runCli([
      'index',
      'search',
      '--queries',
      queries,
      '--k',
      '10',
      '--row-numbers',
      '--output',
      path.join(dir, 'o.run'),
      ...extra,
    ]);
  const d = await search('--index', dir);
  assert.equal(d.code, 2, d.stderr);
  assert.match(d.stderr, /--index: .* is a directory, not an index file/);
  assert.doesNotMatch(d.stderr, /internal error|EISDIR/);
  const none = path.join(dir, 'none.txt');
  await fs.writeFile(none, 'x1\nx2\nx3\n');
  const s = await search('--index', out, '--filter-ids', none);
  assert.equal(s.code, 0, s.stderr);
  assert.match(
    s.stderr,
    /warning: 0 of the 3 ids in --filter-ids .* are in the index: every query gets an empty result list/,
  );
  const two = path.join(dir, 'two.txt');
  await fs.writeFile(two, 'doc001\ndoc002\nx9\n');
  const t = await search('--index', out, '--filter-ids', two);
  assert.match(t.stderr, /warning: 2 of the 3 ids .* each query gets at most 2 results, not 10/);
});
