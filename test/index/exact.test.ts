import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { readNpy } from '../../src/data/npy.js';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import { ExactIndex } from '../../src/index/exact.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import type { Metric } from '../../src/index/types.js';
import type { Matrix } from '../../src/types.js';
import { tmpDir } from '../helpers/tmp.js';
import { FIXTURES, fixtureJson, ids, randomMatrix, rows } from './helpers.js';

interface Expected {
  k: number;
  ip: { ids: string[]; scores: number[] }[];
  cosine: { ids: string[]; scores: number[] }[];
  l2: { ids: string[]; scores: number[] }[];
}

async function fixture(): Promise<{
  docs: Awaited<ReturnType<typeof readNpy>>;
  queries: Awaited<ReturnType<typeof readNpy>>;
  docIds: string[];
}> {
  const docs = await readNpy(path.join(FIXTURES, 'docs.npy'));
  const queries = await readNpy(path.join(FIXTURES, 'queries.npy'));
  const docIds = (await fs.readFile(path.join(FIXTURES, 'doc-ids.txt'), 'utf8')).trim().split('\n');
  return { docs, queries, docIds };
}

for (const metric of ['ip', 'cosine', 'l2'] as Metric[]) {
  test(`${metric}: top-k equals numpy's float64 brute force, ties by higher id first`, async () => {
    const { docs, queries, docIds } = await fixture();
    const expected = fixtureJson<Expected>('exact-topk.json');
    // A small block size so that blocks, the 4-query groups and the remainder loop are all exercised.
    const index = new ExactIndex({ dim: docs.cols, metric, blockSize: 37 });
    await index.add(rows(docs, 0, 100), docIds.slice(0, 100));
    await index.add(rows(docs, 100, docs.rows), docIds.slice(100));
    const got = await index.search(queries, expected.k);
    expected[metric].forEach((e, q) => {
      assert.deepEqual(got.ids[q], e.ids, `query ${q}`);
      e.scores.forEach((s, j) =>
        assert.ok(Math.abs(got.scores[q][j] - s) <= 1e-5 * Math.max(1, Math.abs(s))),
      );
    });
  });
}

test('the fixture really has ties, broken by higher id first', async () => {
  const expected = fixtureJson<Expected>('exact-topk.json');
  // query 0 equals documents 3, 7 and 250 (identical vectors): doc250 > doc007 > doc003.
  const ranked = expected.ip[0].ids;
  const at = ['doc250', 'doc007', 'doc003'].map((id) => ranked.indexOf(id));
  assert.ok(at.every((i) => i >= 0) && at[0] < at[1] && at[1] < at[2]);
});

test('save/load round-trips, and the file is refused when truncated or from another version', async () => {
  const dir = tmpDir();
  const m = randomMatrix(120, 8, 1);
  const q = randomMatrix(5, 8, 2);
  for (const metric of ['ip', 'cosine', 'l2'] as Metric[]) {
    const index = new ExactIndex({ dim: 8, metric });
    await index.add(m, ids(120));
    const file = path.join(dir, `${metric}.idx`);
    await index.save(file);
    const loaded = await ExactIndex.load(file);
    assert.equal(loaded.size, 120);
    assert.equal(loaded.metric, metric);
    assert.deepEqual(await loaded.search(q, 7), await index.search(q, 7));
  }
  const file = path.join(dir, 'ip.idx');
  const bytes = await fs.readFile(file);
  const cut = path.join(dir, 'cut.idx');
  await fs.writeFile(cut, bytes.subarray(0, bytes.length - 10));
  await assert.rejects(
    ExactIndex.load(cut),
    (e: unknown) =>
      e instanceof InputFormatError && /cut\.idx: truncated index file: section 'vectors'/.test(e.message),
  );
  const other = Buffer.from(bytes);
  other.writeUInt32LE(99, 8);
  const v99 = path.join(dir, 'v99.idx');
  await fs.writeFile(v99, other);
  await assert.rejects(ExactIndex.load(v99), /v99\.idx: index format version 99 is not supported/);
  const junk = path.join(dir, 'junk.idx');
  await fs.writeFile(junk, 'not an index at all');
  await assert.rejects(ExactIndex.load(junk), /junk\.idx: not a dense-retrieval index file \(bad magic\)/);
  assert.deepEqual(
    (await fs.readdir(dir)).filter((f) => f.includes('.tmp-')),
    [],
  );
});

test('bad input is a clear ArgumentError', async () => {
  const index = new ExactIndex({ dim: 4 });
  const q = randomMatrix(1, 4, 3);
  await assert.rejects(() => index.search(q, 1), /index: cannot search an empty index/);
  await index.add(randomMatrix(3, 4, 4), ['a', 'b', 'c']);
  await assert.rejects(() => index.search(q, 4), /k: k = 4 exceeds the number of indexed vectors \(3\)/);
  await assert.rejects(() => index.search(q, 0), /k: must be a positive integer, got 0/);
  await assert.rejects(
    () => index.search(randomMatrix(1, 5, 1), 1),
    /queries: dimension mismatch: vectors have 5 dimensions, the index has 4/,
  );
  await assert.rejects(() => index.add(randomMatrix(1, 3, 1), ['x']), /vectors: dimension mismatch/);
  const nan = randomMatrix(2, 4, 5);
  nan.data[6] = Number.NaN;
  await assert.rejects(() => index.add(nan, ['x', 'y']), /vectors: row 1 contains NaN/);
  await assert.rejects(() => index.add(randomMatrix(2, 4, 6), ['a', 'z']), /ids: duplicate document id 'a'/);
  await assert.rejects(() => index.add(randomMatrix(2, 4, 6), ['q', 'q']), /ids: duplicate document id 'q'/);
  await assert.rejects(() => index.add(randomMatrix(2, 4, 6), ['q']), /ids: got 1 ids for 2 vectors/);
  assert.throws(() => new ExactIndex({ dim: 4, metric: 'dot' as Metric }), ArgumentError);
  assert.equal(index.size, 3, 'failed adds leave the index unchanged');
});

test('searches leave tf.memory().numTensors flat (no tensors are created or leaked)', async () => {
  await initBackend();
  const docs = randomMatrix(500, 16, 7);
  const q = randomMatrix(9, 16, 8);
  const exact = new ExactIndex({ dim: 16 });
  await exact.add(docs, ids(500));
  const hnsw = new HnswIndex({ dim: 16, M: 8 });
  await hnsw.add(docs, ids(500));
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    await exact.search(q, 10);
    await hnsw.search(q, 10, { ef: 50 });
  }
  assert.equal(tf.memory().numTensors, before);
});

/**
 * 500 documents [1, e_j, 0, ...] against the query [1, 1, 0, ...] with e_j = j * 2^-40, j = -250..249:
 * every float32 score rounds to the same value while the float64 scores are all distinct, so the float32
 * matMul prefilter alone cannot rank them. Ids run against the score order, so a tie-break by id would
 * return the wrong documents. The exact answer is the 10 largest j, best first, under every metric.
 */
function nearTies(): { docs: Matrix; docIds: string[]; query: Matrix; expected: string[] } {
  const dim = 8;
  const n = 500;
  const order = Array.from({ length: n }, (_, i) => (i * 211) % n); // a fixed permutation of 0..499
  const docs = new Float32Array(n * dim);
  const docIds: string[] = [];
  order.forEach((p, r) => {
    const j = p - 250;
    docs[r * dim] = 1;
    docs[r * dim + 1] = j * 2 ** -40;
    docIds.push(`x${String(999 - p).padStart(4, '0')}`);
  });
  const query = new Float32Array(dim);
  query[0] = 1;
  query[1] = 1;
  const expected = Array.from({ length: 10 }, (_, t) => `x${String(999 - (499 - t)).padStart(4, '0')}`);
  return {
    docs: { data: docs, rows: n, cols: dim },
    docIds,
    query: { data: query, rows: 1, cols: dim },
    expected,
  };
}

for (const backend of ['wasm', 'cpu'] as const) {
  test(`${backend}: float32 near-ties are ranked exactly in float64, fixtures still match, no tensor leaks`, async () => {
    await initBackend({ backend });
    try {
      const { docs, docIds, query, expected } = nearTies();
      // The float32 scores really do tie, so the float64 rescoring is what ranks them.
      assert.equal(Math.fround(1 + 249 * 2 ** -40), Math.fround(1 - 250 * 2 ** -40));
      const fixtureDocs = await fixture();
      const topk = fixtureJson<Expected>('exact-topk.json');
      for (const metric of ['ip', 'cosine', 'l2'] as Metric[]) {
        const index = new ExactIndex({ dim: 8, metric, blockSize: 37 });
        await index.add(docs, docIds);
        const before = tf.memory().numTensors;
        assert.deepEqual((await index.search(query, 10)).ids[0], expected, metric);
        // Several queries at once, with the near-tie query among them, in a product wider than one query.
        const many = randomMatrix(6, 8, 11);
        many.data.set(query.data, 3 * 8);
        assert.deepEqual((await index.search(many, 10)).ids[3], expected, `${metric}, batched`);
        assert.equal(tf.memory().numTensors, before, `${metric}: tensors leaked`);

        const fx = new ExactIndex({ dim: fixtureDocs.docs.cols, metric, blockSize: 64 });
        await fx.add(fixtureDocs.docs, fixtureDocs.docIds);
        const got = await fx.search(fixtureDocs.queries, topk.k);
        topk[metric].forEach((e, q) => assert.deepEqual(got.ids[q], e.ids, `${metric} query ${q}`));
      }
    } finally {
      await initBackend();
    }
  });
}

test('wasm: scores beyond float32 range (NaN/Infinity in a float32 product) still rank exactly', async () => {
  await initBackend({ backend: 'wasm' });
  const index = new ExactIndex({ dim: 2 });
  // q.d for 'huge' is 1e40 - 1e40 = 0 in float64, but Infinity - Infinity = NaN in float32.
  await index.add({ data: new Float32Array([1e20, 1e20, 1, 0, 0, 1, -1e20, 1e20]), rows: 4, cols: 2 }, [
    'huge',
    'one',
    'minus',
    'far',
  ]);
  const got = await index.search({ data: new Float32Array([1e20, -1e20]), rows: 1, cols: 2 }, 3);
  assert.deepEqual(got.ids[0], ['one', 'huge', 'minus']);
  assert.deepEqual(Array.from(got.scores[0]), [1e20, 0, -1e20].map(Math.fround));
});

test('capacity reserves rows up front; search and save are as without it', async () => {
  const docs = randomMatrix(50, 6, 91);
  const q = randomMatrix(3, 6, 92);
  const plain = new ExactIndex({ dim: 6 });
  const reserved = new ExactIndex({ dim: 6, capacity: 50 });
  for (const index of [plain, reserved]) {
    await index.add(rows(docs, 0, 20), ids(50).slice(0, 20));
    await index.add(rows(docs, 20, 50), ids(50).slice(20));
  }
  assert.deepEqual(await reserved.search(q, 5), await plain.search(q, 5));
  const file = path.join(tmpDir(), 'r.idx');
  await reserved.save(file);
  assert.equal((await ExactIndex.load(file)).size, 50);
  assert.throws(() => new ExactIndex({ dim: 6, capacity: -1 }), /capacity: must be a non-negative integer/);
});
