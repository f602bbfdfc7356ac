import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { readRun } from '../../src/data/run.js';
import { runCli } from '../helpers/cli.js';
import { miniBeir, TINY_BERT } from '../helpers/mini-beir.js';
import { startPgServer } from '../helpers/pg-server.js';
import type { TestPgServer } from '../helpers/pg-server.js';
import { tmpDir } from '../helpers/tmp.js';
import { FIXTURES } from '../index/helpers.js';

const vectors = path.join(FIXTURES, 'docs.npy');
const queries = path.join(FIXTURES, 'queries.npy');
const docIds = path.join(FIXTURES, 'doc-ids.txt');

let server: TestPgServer;
before(async () => {
  server = await startPgServer();
});
after(async () => {
  await server?.stop();
});

async function search(index: string, out: string, qids: string, extra: string[] = []) {
  return runCli([
    'index',
    'search',
    '--index',
    index,
    '--queries',
    queries,
    '--query-ids',
    qids,
    '--k',
    '10',
    '--output',
    out,
    ...extra,
  ]);
}

test('index build --type pgvector (embedded) + index search give the exact run; a filled table is not touched', async () => {
  const dir = tmpDir();
  const qids = path.join(dir, 'qids.txt');
  await fs.writeFile(qids, Array.from({ length: 12 }, (_, i) => `Q${i}`).join('\n') + '\n');
  const ref = path.join(dir, 'docs.pgvector.json');
  let r = await runCli([
    'index',
    'build',
    '--vectors',
    vectors,
    '--ids',
    docIds,
    '--type',
    'pgvector',
    '--table',
    'docs',
    '--out',
    ref,
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /pgvector hnsw index of 300 x 16 \(ip\) in table docs, embedded PGlite at .*docs\.pgvector\.json\.pgdata/,
  );
  const exactFile = path.join(dir, 'docs.exact');
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
    exactFile,
  ]);
  assert.equal(r.code, 0, r.stderr);

  r = await search(ref, path.join(dir, 'pg.run'), qids, ['--ef', '300']);
  assert.equal(r.code, 0, r.stderr);
  r = await search(exactFile, path.join(dir, 'exact.run'), qids);
  assert.equal(r.code, 0, r.stderr);
  const pg = await readRun(path.join(dir, 'pg.run'));
  const exact = await readRun(path.join(dir, 'exact.run'));
  for (const [q, docs] of exact) {
    assert.deepEqual([...pg.get(q)!.keys()].sort(), [...docs.keys()].sort(), q);
  }

  r = await runCli([
    'index',
    'build',
    '--vectors',
    vectors,
    '--ids',
    docIds,
    '--type',
    'pgvector',
    '--table',
    'docs',
    '--out',
    ref,
  ]);
  assert.equal(r.code, 2);
  assert.match(
    r.stderr,
    /table docs in embedded PGlite at .* already holds 300 vectors: choose another --table \(nothing was changed\)/,
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
    '--table',
    't',
    '--out',
    ref,
  ]);
  assert.match(r.stderr, /--table applies to --type pgvector only/);
});

test('evaluate-model --index pgvector against a server prints recall@10 vs exact and leaves no table behind', async () => {
  const dir = tmpDir();
  const data = await miniBeir(path.join(dir, 'beir'));
  const config = path.join(dir, 'config.json');
  await fs.writeFile(config, JSON.stringify(TINY_BERT));
  const r = await runCli([
    'evaluate-model',
    '--model',
    `scratch:${config}`,
    '--data',
    data,
    '--index',
    'exact,pgvector',
    '--database',
    server.url,
    '--ef',
    '20,40',
    '--k',
    '20',
    '--max-length',
    '32',
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[1], /^exact(\s+\d\.\d{4}){4}\s+-$/);
  assert.match(lines[2], /^pgvector ef=20(\s+\d\.\d{4}){5}$/);
  assert.match(lines[3], /^pgvector ef=40(\s+\d\.\d{4}){5}$/);
  // 40 documents and ef >= 20: pgvector's HNSW finds nearly all of the exact top 10.
  assert.ok(Number(lines[3].split(/\s+/).at(-1)) >= 0.9, lines[3]);
  assert.ok(!r.stderr.includes('s3cret-pw'));

  const pg = await import('pg');
  const client = new pg.default.Client({ connectionString: server.url });
  await client.connect();
  try {
    const left = await client.query("SELECT tablename FROM pg_tables WHERE tablename LIKE 'dr_eval_%'");
    assert.deepEqual(left.rows, []);
  } finally {
    await client.end();
  }
});

test('an unreachable server is a one-line error naming it without the password', async () => {
  const dir = tmpDir();
  const r = await runCli([
    'index',
    'build',
    '--vectors',
    vectors,
    '--ids',
    docIds,
    '--type',
    'pgvector',
    '--table',
    'docs',
    '--database',
    'postgres://me:hunter2@127.0.0.1:1/db',
    '--out',
    path.join(dir, 'x.json'),
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot connect to postgres:\/\/me@127\.0\.0\.1:1\/db/);
  assert.ok(!r.stderr.includes('hunter2'));
});
