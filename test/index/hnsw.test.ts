import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { InputFormatError } from '../../src/errors.js';
import { ExactIndex } from '../../src/index/exact.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { measureRecall } from '../../src/index/recall.js';
import { tmpDir } from '../helpers/tmp.js';
import { ids, randomMatrix, rows } from './helpers.js';

test('default settings reach recall@10 >= 0.98 against exact search on random 384-d vectors', () => {
  const docs = randomMatrix(5000, 384, 11);
  const queries = randomMatrix(100, 384, 12);
  const exact = new ExactIndex({ dim: 384, metric: 'cosine' });
  exact.add(docs, ids(5000));
  const hnsw = new HnswIndex({ dim: 384, metric: 'cosine' });
  hnsw.add(docs, ids(5000));
  const recall = measureRecall(hnsw, exact, queries, 10);
  assert.ok(recall >= 0.98, `recall@10 = ${recall}`);
  // A starved beam must do visibly worse: the test can tell good settings from bad ones.
  assert.ok(measureRecall(hnsw, exact, queries, 10, { ef: 10 }) < recall);
});

test('grows past its initial capacity and finds every vector it holds', () => {
  const docs = randomMatrix(300, 16, 21);
  const index = new HnswIndex({ dim: 16, metric: 'l2', capacity: 8 });
  index.add(rows(docs, 0, 5), ids(5));
  index.add(rows(docs, 5, 300), ids(300).slice(5));
  assert.equal(index.size, 300);
  assert.ok(index.capacity >= 300);
  const hit = index.search(rows(docs, 0, 300), 1);
  const self = hit.ids.filter((r, i) => r[0] === `d${i}`).length;
  assert.ok(self >= 297, `${self}/300 vectors found themselves`);
  assert.ok(Math.abs(hit.scores[0][0]) < 1e-4, 'l2 score of a vector against itself is -0');
});

test('scores follow the metric (ip: dot product, best first)', () => {
  const index = new HnswIndex({ dim: 2, metric: 'ip' });
  index.add({ data: new Float32Array([1, 0, 0, 2, 3, 3]), rows: 3, cols: 2 }, ['a', 'b', 'c']);
  const r = index.search({ data: new Float32Array([1, 1]), rows: 1, cols: 2 }, 3);
  assert.deepEqual(r.ids[0], ['c', 'b', 'a']);
  assert.deepEqual(Array.from(r.scores[0]), [6, 2, 1]);
});

test('ip uses the exact inner-product reduction: full-beam search equals exact search, even after Φ grows', () => {
  const small = randomMatrix(150, 12, 41);
  const big = randomMatrix(150, 12, 42);
  for (let i = 0; i < big.data.length; i++) big.data[i] *= 3; // longer vectors: forces a rebuild
  const q = randomMatrix(15, 12, 43);
  const hnsw = new HnswIndex({ dim: 12, metric: 'ip' });
  const exact = new ExactIndex({ dim: 12, metric: 'ip' });
  assert.equal(hnsw.mipsTransform, true);
  hnsw.add(small, ids(150, 's'));
  exact.add(small, ids(150, 's'));
  hnsw.add(big, ids(150, 'b'));
  exact.add(big, ids(150, 'b'));
  const a = hnsw.search(q, 10, { ef: 300 });
  const e = exact.search(q, 10);
  assert.deepEqual(a.ids, e.ids);
  a.scores.forEach((s, i) => s.forEach((v, j) => assert.ok(Math.abs(v - e.scores[i][j]) < 1e-4)));
  assert.equal(new HnswIndex({ dim: 4, metric: 'ip', mipsTransform: false }).mipsTransform, false);
  assert.equal(new HnswIndex({ dim: 4, metric: 'cosine' }).mipsTransform, false);
});

test('save/load keeps graph and id mapping; truncated or other-version files are refused', async () => {
  const dir = tmpDir();
  const docs = randomMatrix(400, 32, 31);
  const q = randomMatrix(20, 32, 32);
  const index = new HnswIndex({ dim: 32, metric: 'cosine', M: 8, efConstruction: 50, efSearch: 40 });
  index.add(docs, ids(400, 'doc-'));
  const file = path.join(dir, 'g.hnsw');
  await index.save(file);
  const loaded = await HnswIndex.load(file);
  assert.equal(loaded.size, 400);
  assert.equal(loaded.M, 8);
  assert.equal(loaded.efSearch, 40);
  assert.deepEqual(loaded.search(q, 5), index.search(q, 5));
  loaded.add(randomMatrix(1, 32, 33), ['new']);
  assert.equal(loaded.size, 401);
  const ip = new HnswIndex({ dim: 32, metric: 'ip', M: 8 });
  ip.add(docs, ids(400));
  await ip.save(path.join(dir, 'ip.hnsw'));
  const ipLoaded = await HnswIndex.load(path.join(dir, 'ip.hnsw'));
  assert.equal(ipLoaded.mipsTransform, true);
  assert.deepEqual(ipLoaded.search(q, 5), ip.search(q, 5));
  const bytes = await fs.readFile(file);
  const cut = path.join(dir, 'cut.hnsw');
  await fs.writeFile(cut, bytes.subarray(0, bytes.length - 100));
  await assert.rejects(
    HnswIndex.load(cut),
    (e: unknown) =>
      e instanceof InputFormatError && /cut\.hnsw: truncated index file: section 'graph'/.test(e.message),
  );
  const v2 = Buffer.from(bytes);
  v2.writeUInt32LE(2, 8);
  await fs.writeFile(cut, v2);
  await assert.rejects(HnswIndex.load(cut), /cut\.hnsw: index format version 2 is not supported/);
  const exactFile = path.join(dir, 'e.idx');
  const exact = new ExactIndex({ dim: 32 });
  exact.add(rows(docs, 0, 3), ids(3));
  await exact.save(exactFile);
  await assert.rejects(
    HnswIndex.load(exactFile),
    /e\.idx: index file holds a 'exact' index, expected 'hnsw'/,
  );
});

test('bad input is a clear ArgumentError', () => {
  const index = new HnswIndex({ dim: 4 });
  const q = randomMatrix(1, 4, 3);
  assert.throws(() => index.search(q, 1), /index: cannot search an empty index/);
  index.add(randomMatrix(3, 4, 4), ['a', 'b', 'c']);
  assert.throws(() => index.search(q, 4), /k: k = 4 exceeds the number of indexed vectors \(3\)/);
  assert.throws(() => index.search(randomMatrix(1, 8, 1), 1), /queries: dimension mismatch/);
  assert.throws(() => index.add(randomMatrix(1, 3, 1), ['x']), /vectors: dimension mismatch/);
  const nan = randomMatrix(2, 4, 5);
  nan.data[1] = Number.NaN;
  assert.throws(() => index.add(nan, ['x', 'y']), /vectors: row 0 contains NaN/);
  const nanQ = randomMatrix(1, 4, 5);
  nanQ.data[0] = Number.POSITIVE_INFINITY;
  assert.throws(() => index.search(nanQ, 1), /queries: row 0 contains an infinite value/);
  assert.throws(() => index.add(randomMatrix(1, 4, 6), ['b']), /ids: duplicate document id 'b'/);
  assert.throws(() => index.search(q, 1, { ef: 0 }), /ef: must be a positive integer/);
  assert.throws(() => new HnswIndex({ dim: 4, M: 0 }), /M: must be a positive integer/);
  assert.throws(() => new HnswIndex({ dim: 4, seed: -1 }), /seed: must be a non-negative integer, got -1/);
  assert.equal(index.size, 3);
});
