import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ArgumentError, BackendError, InputFormatError } from '../../src/errors.js';
import { ExactIndex } from '../../src/index/exact.js';
import { loadVectorIndex } from '../../src/index/load.js';
import { DatabaseError, optionalImport, redactUrl } from '../../src/index/pg-client.js';
import { PgvectorIndex, checkIdentifier, pgArrayLiteral } from '../../src/index/pgvector.js';
import { measureRecall } from '../../src/index/recall.js';
import { startPgServer } from '../helpers/pg-server.js';
import type { TestPgServer } from '../helpers/pg-server.js';
import { tmpDir } from '../helpers/tmp.js';
import { ids, randomMatrix, rows } from './helpers.js';

const DIM = 16;
const N = 600;
const docs = randomMatrix(N, DIM, 21);
const docIds = ids(N, 'doc-');
const queries = randomMatrix(25, DIM, 22);

/** The exact top-k of the same vectors, by our own ExactIndex (float64 rescoring). */
async function exactOf(metric: 'ip' | 'cosine' | 'l2', m = docs, idList = docIds): Promise<ExactIndex> {
  const exact = new ExactIndex({ dim: DIM, metric });
  await exact.add(m, idList);
  return exact;
}

function assertSameRanking(
  got: { ids: string[][]; scores: Float32Array[] },
  want: { ids: string[][]; scores: Float32Array[] },
  what: string,
): void {
  for (let q = 0; q < want.ids.length; q++) {
    assert.deepEqual(got.ids[q], want.ids[q], `${what}: query ${q}`);
    got.scores[q].forEach((s, j) =>
      // pgvector computes in float32; ours rescore in float64.
      assert.ok(
        Math.abs(s - want.scores[q][j]) <= 1e-5 * Math.max(1, Math.abs(s)),
        `${what}: score ${q}/${j}`,
      ),
    );
  }
}

let server: TestPgServer;
before(async () => {
  server = await startPgServer();
});
after(async () => {
  await server?.stop();
});

test('identifiers and array literals keep data out of SQL text', () => {
  assert.equal(checkIdentifier('table', 'corpus_1'), '"corpus_1"');
  for (const bad of ['1abc', 'a-b', 'x; DROP TABLE y', 'a"b', '', 'é', 'a'.repeat(64)]) {
    assert.throws(() => checkIdentifier('table', bad), ArgumentError, bad);
  }
  assert.equal(pgArrayLiteral(['a', 'b"c', 'd\\e', null]), '{"a","b\\"c","d\\\\e",NULL}');
  assert.equal(redactUrl('postgres://u:pw@h:5/db'), 'postgres://u@h:5/db');
});

test('embedded: exact search equals ExactIndex, HNSW recall is measured, filters, upsert/remove, save/load', async () => {
  const dir = tmpDir();
  const dataDir = path.join(dir, 'pgdata');
  const index = await PgvectorIndex.open({
    dim: DIM,
    table: 'corpus',
    metric: 'ip',
    dataDir,
    batchSize: 250,
  });
  const meta = docIds.map((_, i) => ({ parity: i % 2 === 0 ? 'even' : 'odd', i }));
  try {
    assert.equal(index.engine, 'embedded');
    await index.add(rows(docs, 0, 100), docIds.slice(0, 100), meta.slice(0, 100));
    await index.add(rows(docs, 100, N), docIds.slice(100), meta.slice(100));
    assert.equal(index.size, N);

    const exact = await exactOf('ip');
    const want = await exact.search(queries, 10);
    assertSameRanking(await index.search(queries, 10, { exact: true }), want, 'exact ip');

    // pgvector's HNSW: recall against our exact search, and a starved beam does worse.
    const recall = await measureRecall(index, exact, queries, 10, { ef: 100 });
    assert.ok(recall >= 0.95, `recall@10 at ef 100 = ${recall}`);
    assert.ok((await measureRecall(index, exact, queries, 10, { ef: 10 })) <= recall);

    // Filters run in the database; k rows come back when k match (iterative index scans).
    const odd = await index.search(queries, 10, { metadata: { parity: 'odd' }, ef: 40 });
    for (const list of odd.ids) {
      assert.equal(list.length, 10);
      for (const id of list) assert.equal(Number(id.slice(4)) % 2, 1, id);
    }
    const allow = docIds.slice(0, 7);
    const few = await index.search(queries, 5, { ids: allow, exact: true });
    const exactAllowed = await (await exactOf('ip', rows(docs, 0, 7), allow)).search(queries, 5);
    assertSameRanking(few, exactAllowed, 'ids filter');
    await assert.rejects(
      () => index.search(queries, 5, { filter: () => true } as never),
      /filter: a JavaScript/,
    );
    // The SQL filters' own inputs are checked before they reach the driver.
    await assert.rejects(
      () => index.search(queries, 5, { ids: new Set(allow) as never }),
      /^ArgumentError: ids: must be an array of document ids, got a Set|ids: must be an array of document ids, got a Set/,
    );
    await assert.rejects(
      () => index.search(queries, 5, { ids: 'doc1' as never }),
      /ids: must be an array .* got string/,
    );
    await assert.rejects(
      () => index.search(queries, 5, { ids: [1] as never }),
      /ids: id at position 0 must be a string/,
    );
    await assert.rejects(
      () => index.search(queries, 5, { metadata: 'lang=en' as never }),
      /metadata: must be an object of key\/value pairs, got string/,
    );
    await assert.rejects(
      () => index.search(queries, 5, { ef_search: 40 } as never),
      (e: Error) => e instanceof ArgumentError && /unknown option 'ef_search'/.test(e.message),
    );

    // A duplicate id fails the whole batch and names the id; nothing of the batch is written.
    await assert.rejects(
      () => index.add(rows(docs, 0, 2), ['fresh-1', 'doc-5']),
      (e: Error) => e instanceof ArgumentError && /'doc-5' is already in table corpus/.test(e.message),
    );
    assert.equal(index.size, N);
    assert.equal((await index.search(queries, 1, { ids: ['fresh-1'], exact: true })).ids[0].length, 0);

    // Upsert replaces a vector; remove deletes for good.
    const target = rows(queries, 0, 1);
    await index.upsert(target, ['doc-3']);
    assert.equal(index.size, N);
    assert.equal((await index.search(target, 1, { exact: true })).ids[0][0], 'doc-3');
    assert.equal(await index.remove(['doc-3', 'no-such-doc']), 1);
    assert.equal(index.size, N - 1);
    const afterRemove = await index.search(queries, 50, { exact: true });
    assert.ok(afterRemove.ids.every((l) => !l.includes('doc-3')));

    await index.save(path.join(dir, 'corpus.pgvector.json'));
  } finally {
    await index.close();
  }
  const ref = JSON.parse(await fs.readFile(path.join(dir, 'corpus.pgvector.json'), 'utf8'));
  assert.equal(ref.dataDir, 'pgdata');
  const loaded = await loadVectorIndex(path.join(dir, 'corpus.pgvector.json'));
  try {
    assert.ok(loaded instanceof PgvectorIndex);
    assert.equal(loaded.size, N - 1);
    const r = await loaded.search(queries, 3, { exact: true });
    assert.ok(r.ids.every((l) => l.length === 3 && !l.includes('doc-3')));
  } finally {
    await (loaded as PgvectorIndex).close();
  }

  // A reference is only read: a server URL for an embedded index, a moved data directory and a missing
  // table are errors naming the file, and nothing is created.
  const refFile = path.join(dir, 'corpus.pgvector.json');
  await assert.rejects(
    () => loadVectorIndex(refFile, { database: 'postgres://u:p@127.0.0.1:1/db' }),
    /database: .*corpus\.pgvector\.json refers to an embedded index/,
  );
  const moved = path.join(dir, 'moved.json');
  await fs.writeFile(moved, JSON.stringify({ ...ref, dataDir: 'nope.pgdata' }));
  await assert.rejects(
    () => loadVectorIndex(moved),
    /moved\.json: the embedded pgvector data directory .*nope\.pgdata does not exist/,
  );
  await assert.rejects(fs.access(path.join(dir, 'nope.pgdata')));
  const ghost = path.join(dir, 'ghost.json');
  await fs.writeFile(ghost, JSON.stringify({ ...ref, table: 'ghost' }));
  await assert.rejects(
    () => loadVectorIndex(ghost),
    /ghost\.json: table ghost does not exist in embedded PGlite/,
  );

  // Reopening the table with another dimension is refused, naming both.
  await assert.rejects(
    () => PgvectorIndex.open({ dim: DIM + 1, table: 'corpus', dataDir }),
    /table corpus .* has embedding vector\(16\), not vector\(17\)/,
  );
});

test('server over the wire protocol (pg): cosine and l2 equal ExactIndex, halfvec, errors name the server without its password', async () => {
  for (const metric of ['cosine', 'l2'] as const) {
    const table = `wire_${metric}`;
    const index = await PgvectorIndex.open({
      dim: DIM,
      table,
      metric,
      database: server.url,
      m: 8,
      efConstruction: 32,
    });
    try {
      assert.equal(index.engine, 'server');
      assert.ok(!index.location.includes('s3cret-pw') || process.env.PG_TEST_URL !== undefined);
      await index.add(docs, docIds);
      const exact = await exactOf(metric);
      assertSameRanking(
        await index.search(queries, 10, { exact: true }),
        await exact.search(queries, 10),
        metric,
      );
      const recall = await measureRecall(index, exact, queries, 10, { ef: 64 });
      assert.ok(recall >= 0.9, `${metric}: recall@10 ${recall}`);
    } finally {
      await index.dropTable();
      await index.close();
    }
  }
  const half = await PgvectorIndex.open({
    dim: DIM,
    table: 'wire_half',
    type: 'halfvec',
    database: server.url,
  });
  try {
    await half.add(docs, docIds);
    const r = await half.search(queries, 10, { exact: true });
    const want = await (await exactOf('ip')).search(queries, 10);
    // float16 storage: the top hit survives the rounding on these well-separated random vectors.
    assert.ok(r.ids.filter((l, q) => l[0] === want.ids[q][0]).length >= 23);
    await half.save(path.join(tmpDir(), 'half.json'));
  } finally {
    await half.dropTable();
    await half.close();
  }

  const unreachable = 'postgres://tester:topsecret@127.0.0.1:1/postgres';
  await assert.rejects(
    () => PgvectorIndex.open({ dim: DIM, table: 't', database: unreachable }),
    (e: Error) =>
      e instanceof DatabaseError &&
      /cannot connect to postgres:\/\/tester@127\.0\.0\.1:1\/postgres/.test(e.message) &&
      !e.message.includes('topsecret'),
  );
});

test('bad options and references are named errors', async () => {
  await assert.rejects(() => PgvectorIndex.open({ dim: 0, table: 't' }), /dim: must be a positive integer/);
  await assert.rejects(() => PgvectorIndex.open({ dim: 3, table: 'x y' }), ArgumentError);
  await assert.rejects(
    () => PgvectorIndex.open({ dim: 3000, table: 't' }),
    /dim: pgvector indexes vector columns of at most 2000/,
  );
  await assert.rejects(
    () => PgvectorIndex.open({ dim: 3, table: 't', database: 'mysql://x' }),
    /database: must be a postgres:\/\//,
  );
  await assert.rejects(() => PgvectorIndex.open({ dim: 3, table: 't', m: 200 }), /m: must be in 2\.\.100/);
  // Unknown keys (here hnswlib's spelling of pgvector's `m`) are refused before any database starts.
  await assert.rejects(
    () => PgvectorIndex.open({ dim: 3, table: 't', M: 16 } as never),
    (e: Error) => e instanceof ArgumentError && /unknown option 'M' \(did you mean 'm'\?\)/.test(e.message),
  );
  await assert.rejects(
    () => PgvectorIndex.load('nowhere.json', { databse: 'x' } as never),
    (e: Error) => e instanceof ArgumentError && /databse/.test(e.message),
  );
  const dir = tmpDir();
  const bad = path.join(dir, 'bad.json');
  await fs.writeFile(
    bad,
    JSON.stringify({
      format: 'dense-retrieval/pgvector-index',
      version: 1,
      engine: 'embedded',
      table: 'a;b',
      dim: 3,
    }),
  );
  await assert.rejects(
    () => loadVectorIndex(bad),
    (e: Error) => e instanceof InputFormatError && /bad\.json: .*invalid 'table'/.test(e.message),
  );
  await fs.writeFile(bad, '{not json');
  await assert.rejects(() => loadVectorIndex(bad), InputFormatError);
  // A driver that is not installed is a BackendError that says what to install.
  await assert.rejects(
    () => optionalImport('dense-retrieval-no-such-driver', 'an embedded pgvector index'),
    (e: Error) =>
      e instanceof BackendError &&
      /needs the optional package .*npm install dense-retrieval-no-such-driver/.test(e.message),
  );
});
