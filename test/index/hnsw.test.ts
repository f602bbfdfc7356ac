import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { InputFormatError } from '../../src/errors.js';
import { ExactIndex } from '../../src/index/exact.js';
import { HnswIndex, chooseMipsTransform } from '../../src/index/hnsw.js';
import { measureRecall } from '../../src/index/recall.js';
import { tmpDir } from '../helpers/tmp.js';
import type { SearchResult } from '../../src/index/types.js';
import type { Matrix } from '../../src/types.js';
import { FIXTURES, ids, randomMatrix, rows } from './helpers.js';
import { readNpy } from '../../src/data/npy.js';

// The default beam's recall on random 384-d vectors is tested in hnsw-defaults.test.ts (2k and 5k).

test('grows past its initial capacity and finds every vector it holds', async () => {
  const docs = randomMatrix(300, 16, 21);
  const index = new HnswIndex({ dim: 16, metric: 'l2', capacity: 8 });
  await index.add(rows(docs, 0, 5), ids(5));
  await index.add(rows(docs, 5, 300), ids(300).slice(5));
  assert.equal(index.size, 300);
  assert.ok(index.capacity >= 300);
  const hit = await index.search(rows(docs, 0, 300), 1);
  const self = hit.ids.filter((r, i) => r[0] === `d${i}`).length;
  assert.ok(self >= 297, `${self}/300 vectors found themselves`);
  assert.ok(Math.abs(hit.scores[0][0]) < 1e-4, 'l2 score of a vector against itself is -0');
});

test('scores follow the metric (ip: dot product, best first)', async () => {
  const index = new HnswIndex({ dim: 2, metric: 'ip' });
  await index.add({ data: new Float32Array([1, 0, 0, 2, 3, 3]), rows: 3, cols: 2 }, ['a', 'b', 'c']);
  const r = await index.search({ data: new Float32Array([1, 1]), rows: 1, cols: 2 }, 3);
  assert.deepEqual(r.ids[0], ['c', 'b', 'a']);
  assert.deepEqual(Array.from(r.scores[0]), [6, 2, 1]);
});

test('ip uses the exact inner-product reduction: full-beam search equals exact search, even after Φ grows', async () => {
  const small = randomMatrix(150, 12, 41);
  const big = randomMatrix(150, 12, 42);
  for (let i = 0; i < big.data.length; i++) big.data[i] *= 3; // longer vectors: forces a rebuild
  const q = randomMatrix(15, 12, 43);
  const hnsw = new HnswIndex({ dim: 12, metric: 'ip', mipsTransform: true });
  const exact = new ExactIndex({ dim: 12, metric: 'ip' });
  assert.equal(hnsw.mipsTransform, true);
  await hnsw.add(small, ids(150, 's'));
  await exact.add(small, ids(150, 's'));
  await hnsw.add(big, ids(150, 'b'));
  await exact.add(big, ids(150, 'b'));
  const a = await hnsw.search(q, 10, { ef: 300 });
  const e = await exact.search(q, 10);
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
  await index.add(docs, ids(400, 'doc-'));
  const file = path.join(dir, 'g.hnsw');
  await index.save(file);
  const loaded = await HnswIndex.load(file);
  assert.equal(loaded.size, 400);
  assert.equal(loaded.M, 8);
  assert.equal(loaded.efSearch, 40);
  assert.deepEqual(await loaded.search(q, 5), await index.search(q, 5));
  await loaded.add(randomMatrix(1, 32, 33), ['new']);
  assert.equal(loaded.size, 401);
  const ip = new HnswIndex({ dim: 32, metric: 'ip', M: 8, mipsTransform: true });
  await ip.add(docs, ids(400));
  await ip.save(path.join(dir, 'ip.hnsw'));
  const ipLoaded = await HnswIndex.load(path.join(dir, 'ip.hnsw'));
  assert.equal(ipLoaded.mipsTransform, true);
  assert.deepEqual(await ipLoaded.search(q, 5), await ip.search(q, 5));
  const bytes = await fs.readFile(file);
  const cut = path.join(dir, 'cut.hnsw');
  await fs.writeFile(cut, bytes.subarray(0, bytes.length - 100));
  await assert.rejects(
    HnswIndex.load(cut),
    (e: unknown) =>
      e instanceof InputFormatError && /cut\.hnsw: truncated index file: section 'graph'/.test(e.message),
  );
  const v3 = Buffer.from(bytes);
  v3.writeUInt32LE(3, 8);
  await fs.writeFile(cut, v3);
  await assert.rejects(HnswIndex.load(cut), /cut\.hnsw: index format version 3 is not supported/);
  const exactFile = path.join(dir, 'e.idx');
  const exact = new ExactIndex({ dim: 32 });
  await exact.add(rows(docs, 0, 3), ids(3));
  await exact.save(exactFile);
  await assert.rejects(
    HnswIndex.load(exactFile),
    /e\.idx: index file holds a 'exact' index, expected 'hnsw'/,
  );
});

test('bad input is a clear ArgumentError', async () => {
  const index = new HnswIndex({ dim: 4 });
  const q = randomMatrix(1, 4, 3);
  await assert.rejects(() => index.search(q, 1), /index: cannot search an empty index/);
  await index.add(randomMatrix(3, 4, 4), ['a', 'b', 'c']);
  await assert.rejects(() => index.search(q, 4), /k: k = 4 exceeds the number of indexed vectors \(3\)/);
  await assert.rejects(() => index.search(randomMatrix(1, 8, 1), 1), /queries: dimension mismatch/);
  await assert.rejects(() => index.add(randomMatrix(1, 3, 1), ['x']), /vectors: dimension mismatch/);
  const nan = randomMatrix(2, 4, 5);
  nan.data[1] = Number.NaN;
  await assert.rejects(() => index.add(nan, ['x', 'y']), /vectors: row 0 contains NaN/);
  const nanQ = randomMatrix(1, 4, 5);
  nanQ.data[0] = Number.POSITIVE_INFINITY;
  await assert.rejects(() => index.search(nanQ, 1), /queries: row 0 contains an infinite value/);
  await assert.rejects(() => index.add(randomMatrix(1, 4, 6), ['b']), /ids: duplicate document id 'b'/);
  await assert.rejects(() => index.search(q, 1, { ef: 0 }), /ef: must be a positive integer/);
  assert.throws(() => new HnswIndex({ dim: 4, M: 0 }), /M: must be a positive integer/);
  assert.throws(() => new HnswIndex({ dim: 4, seed: -1 }), /seed: must be a non-negative integer, got -1/);
  assert.equal(index.size, 3);
});

/** Float64 dot product of row `i` of `a` and row `r` of `b`. */
function dot(a: Matrix, i: number, b: Matrix, r: number): number {
  let s = 0;
  for (let j = 0; j < a.cols; j++) s += a.data[i * a.cols + j] * b.data[r * b.cols + j];
  return s;
}

/** trec_eval's order: higher score first, equal scores by greater id (ids here are ASCII). */
function before(a: { id: string; score: number }, b: { id: string; score: number }): boolean {
  return a.score !== b.score ? a.score > b.score : a.id > b.id;
}

/** Independent brute force: float64 dot products of the float32 inputs, trec_eval order, float32 scores. */
function bruteForceIp(docs: Matrix, docIds: string[], q: Matrix, k: number): SearchResult {
  const out: SearchResult = { ids: [], scores: [] };
  for (let i = 0; i < q.rows; i++) {
    const ranked = docIds.map((id, r) => ({ id, score: dot(q, i, docs, r) }));
    ranked.sort((a, b) => (before(a, b) ? -1 : 1));
    out.ids.push(ranked.slice(0, k).map((r) => r.id));
    out.scores.push(Float32Array.from(ranked.slice(0, k).map((r) => r.score)));
  }
  return out;
}

/** The rows of several matrices (all rows, or the listed ones), stacked. */
function stack(...parts: [Matrix, number[]?][]): Matrix {
  const cols = parts[0][0].cols;
  const picked = parts.flatMap(([m, r]) =>
    (r ?? Array.from({ length: m.rows }, (_, i) => i)).map((i) => m.data.subarray(i * cols, (i + 1) * cols)),
  );
  const data = new Float32Array(picked.length * cols);
  picked.forEach((row, i) => data.set(row, i * cols));
  return { data, rows: picked.length, cols };
}

/** Every row of a batch search equals the same query searched alone. */
async function assertBatchEqualsOneByOne(
  index: HnswIndex,
  q: Matrix,
  k: number,
  ef: number,
): Promise<SearchResult> {
  const batch = await index.search(q, k, { ef });
  for (let i = 0; i < q.rows; i++) {
    const one = await index.search(stack([q, [i]]), k, { ef });
    assert.deepEqual(one, { ids: [batch.ids[i]], scores: [batch.scores[i]] }, `query ${i}`);
  }
  return batch;
}

test('ip: batch equals one-by-one, scores are exact float64 dot products in trec_eval order, also after growth and reload', async () => {
  const small = randomMatrix(120, 16, 51);
  const big = randomMatrix(120, 16, 52);
  for (let i = 0; i < big.data.length; i++) big.data[i] *= 2.5; // Φ grows: the graph is rebuilt
  const docs = stack([small], [big]);
  const docIds = [...ids(120, 's'), ...ids(120, 'b')];
  const q = randomMatrix(20, 16, 53);
  const index = new HnswIndex({ dim: 16, metric: 'ip', M: 8, efConstruction: 64, capacity: 4 });
  await index.add(small, ids(120, 's'));
  await index.add(big, ids(120, 'b'));
  const batch = await assertBatchEqualsOneByOne(index, q, 10, 20);
  // A beam over the whole index finds everything: the result is brute force, bit for bit.
  const full = await index.search(q, 10, { ef: 240 });
  assert.deepEqual(full, bruteForceIp(docs, docIds, q, 10));

  const file = path.join(tmpDir(), 'ip.hnsw');
  await index.save(file);
  const loaded = await HnswIndex.load(file);
  assert.deepEqual(await loaded.search(q, 10, { ef: 20 }), batch);
  assert.deepEqual(await loaded.search(q, 10, { ef: 240 }), full);
  // The reloaded index rescores and rebuilds from the vectors it read back.
  const more = randomMatrix(5, 16, 54);
  for (let i = 0; i < more.data.length; i++) more.data[i] *= 4;
  await loaded.add(more, ids(5, 'm'));
  assert.deepEqual(
    await loaded.search(q, 10, { ef: 245 }),
    bruteForceIp(stack([docs], [more]), [...docIds, ...ids(5, 'm')], q, 10),
  );
});

test('ip: exact duplicates tie and rank by id, descending', async () => {
  const docs = randomMatrix(150, 16, 55);
  // Copies of d7 under ids whose order is not insertion order. (hnswlib may leave some copies of a point
  // unreachable, so the test checks the order of what is returned, not that every copy is.)
  const dupIds = ['dup-b', 'dup-c', 'dup-a', 'dup-e', 'dup-d'];
  const all = stack([docs], [docs, [7, 7, 7, 7, 7]]);
  const allIds = [...ids(150), ...dupIds];
  const index = new HnswIndex({ dim: 16, metric: 'ip', M: 8, efConstruction: 64 });
  await index.add(stack([docs]), ids(150));
  await index.add(stack([docs, [7, 7, 7, 7, 7]]), dupIds);
  const q = stack([randomMatrix(10, 16, 56)], [docs, [7]]);
  const got = await assertBatchEqualsOneByOne(index, q, 8, 155);
  let ties = 0;
  got.ids.forEach((row, i) => {
    const ranked = row.map((id) => ({ id, score: dot(q, i, all, allIds.indexOf(id)) }));
    ranked.forEach((r, j) => {
      assert.equal(got.scores[i][j], Math.fround(r.score), `query ${i} rank ${j}: exact score`);
      if (j === 0) return;
      assert.ok(before(ranked[j - 1], r), `query ${i}: ${ranked[j - 1].id} before ${r.id}`);
      if (ranked[j - 1].score === r.score) ties++;
    });
  });
  assert.ok(ties >= 2, `the duplicates produced ties (${ties})`);
});

test('l2 and cosine: batch equals one-by-one, scores from the distance, equal distances ranked by id', async () => {
  const docs = randomMatrix(200, 8, 61);
  for (const metric of ['l2', 'cosine'] as const) {
    const index = new HnswIndex({ dim: 8, metric, M: 8, efConstruction: 64 });
    await index.add(docs, ids(200));
    await index.add(stack([docs, [3, 3, 3]]), ['t-b', 't-c', 't-a']);
    const q = stack([randomMatrix(10, 8, 62)], [docs, [3]]);
    const batch = await assertBatchEqualsOneByOne(index, q, 6, 203);
    batch.scores.forEach((s) => s.forEach((v, j) => assert.ok(j === 0 || s[j - 1] >= v, `${metric} order`)));
    // Query 10 is document d3 itself: copies returned with it tie at the top, greater id first.
    const top = batch.ids[10].filter((id) => id === 'd3' || id.startsWith('t-'));
    assert.ok(top.length >= 2, `${metric}: ${top.join(',')}`);
    assert.deepEqual(top, [...top].sort().reverse(), metric);
    assert.deepEqual(batch.ids[10].slice(0, top.length), top, metric);
    const best = batch.scores[10][0];
    assert.ok(metric === 'l2' ? Math.abs(best) < 1e-5 : Math.abs(best - 1) < 1e-5, `${metric} self ${best}`);
  }
});

/** Rows of `m` scaled by uniform(lo, hi) (deterministic from `seed`). */
function scaledRows(m: Matrix, lo: number, hi: number, seed: number): Matrix {
  const u = randomMatrix(m.rows, 1, seed);
  const data = Float32Array.from(m.data);
  for (let r = 0; r < m.rows; r++) {
    const s = lo + (hi - lo) * (0.5 + 0.5 * Math.tanh(u.data[r])); // a smooth map of N(0,1) into (lo, hi)
    for (let j = 0; j < m.cols; j++) data[r * m.cols + j] *= s;
  }
  return { data, rows: m.rows, cols: m.cols };
}

/** Randomly initialised BERT-like vectors: a large shared direction plus small low-rank noise. */
function sharedDirection(n: number, d: number, seed: number): Matrix {
  const mean = randomMatrix(1, d, 7).data;
  const noise = randomMatrix(16, d, 8).data;
  const coef = randomMatrix(n, 16, seed).data;
  const jitter = randomMatrix(n, d, seed + 1).data;
  const data = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      let v = 3.3 * mean[j] + 0.05 * jitter[i * d + j];
      for (let b = 0; b < 16; b++) v += 0.35 * coef[i * 16 + b] * noise[b * d + j];
      data[i * d + j] = v;
    }
  }
  return { data, rows: n, cols: d };
}

test("issue 12: 'auto' picks hnswlib's ip space for widely varied norms (recall@10 0.40 -> >= 0.95 at ef 64)", async () => {
  // The input: 3,000 x 32 Gaussian rows scaled by ~uniform(0.2, 5), Gaussian queries, M 16, efC 100.
  const docs = scaledRows(randomMatrix(3000, 32, 51), 0.2, 5, 52);
  const queries = randomMatrix(50, 32, 53);
  assert.equal(chooseMipsTransform(docs), false);
  const exact = new ExactIndex({ dim: 32, metric: 'ip' });
  await exact.add(docs, ids(3000));
  const recall = async (mipsTransform: boolean | 'auto') => {
    const hnsw = new HnswIndex({ dim: 32, metric: 'ip', M: 16, efConstruction: 100, mipsTransform });
    await hnsw.add(docs, ids(3000));
    return { value: await measureRecall(hnsw, exact, queries, 10, { ef: 64 }), space: hnsw.mipsTransform };
  };
  const auto = await recall('auto');
  assert.equal(auto.space, false);
  assert.ok(auto.value >= 0.95, `auto: ${auto.value}`);
  const reduction = await recall(true);
  assert.ok(reduction.value < 0.7, `the reduction's failure this guards against: ${reduction.value}`);
});

test("issue 12: 'auto' keeps the reduction for nearly equal norms around a shared direction (no ip plateau)", async () => {
  const docs = sharedDirection(3000, 32, 61);
  const queries = sharedDirection(50, 32, 71);
  assert.equal(chooseMipsTransform(docs), true);
  const exact = new ExactIndex({ dim: 32, metric: 'ip' });
  await exact.add(docs, ids(3000));
  const recall = async (mipsTransform: boolean | 'auto') => {
    const hnsw = new HnswIndex({ dim: 32, metric: 'ip', M: 16, efConstruction: 100, mipsTransform });
    await hnsw.add(docs, ids(3000));
    return measureRecall(hnsw, exact, queries, 10, { ef: 1024 });
  };
  const auto = await recall('auto');
  const raw = await recall(false);
  assert.ok(auto >= 0.99, `auto: ${auto}`);
  assert.ok(auto > raw, `auto ${auto} vs hnswlib ip ${raw}`);
  assert.throws(() => new HnswIndex({ dim: 2, mipsTransform: 'yes' as never }), /mipsTransform: must be/);
});

test("issue 12: the graph 'auto' chose is saved with the index and kept on load and later adds", async () => {
  const docs = scaledRows(randomMatrix(300, 16, 101), 0.2, 5, 102);
  const q = randomMatrix(10, 16, 103);
  const index = new HnswIndex({ dim: 16, metric: 'ip', M: 8 });
  assert.equal(index.mipsTransform, false, 'undecided until the first add');
  await index.add(docs, ids(300));
  assert.equal(index.mipsTransform, false);
  const file = path.join(tmpDir(), 'auto.hnsw');
  await index.save(file);
  const loaded = await HnswIndex.load(file);
  assert.equal(loaded.mipsTransform, false);
  assert.deepEqual(await loaded.search(q, 5), await index.search(q, 5));
  // Equal norms later do not switch an index that already holds vectors.
  const unit = randomMatrix(5, 16, 104);
  await loaded.add(unit, ids(5, 'u'));
  assert.equal(loaded.mipsTransform, false);
  const equal = new HnswIndex({ dim: 16, metric: 'ip', M: 8 });
  await equal.add(randomMatrix(300, 16, 105), ids(300));
  // 16-d Gaussian rows: norms within about 3.0-5.0 (95th/5th percentile < 2), so the reduction.
  assert.equal(equal.mipsTransform, true);
});

test("'auto' measures both ip graphs on a first batch of >= 1000 vectors: untrained-model SciFact embeddings get hnswlib's ip space", async () => {
  // Near-equal norms (4.25-4.47) around one direction: the norm rule picks the reduction, which measured
  // 0.74 recall@10 at ef 40 on the full corpus where hnswlib's ip space gave 0.97 (docs/index-tuning.md).
  const docs = await readNpy(path.join(FIXTURES, 'scifact-untrained-1200x64.f16.npy'));
  assert.equal(chooseMipsTransform(docs), true, 'the norm rule would pick the reduction');
  const auto = new HnswIndex({ dim: 64, metric: 'ip', M: 16, efConstruction: 100 });
  await auto.add(docs, ids(docs.rows));
  const m = auto.spaceMeasurement!;
  assert.ok(m.ip > m.reduction + 0.05, JSON.stringify(m));
  assert.equal(auto.mipsTransform, false);
  // The choice holds for the whole index, not only the sample it was measured on.
  const exact = new ExactIndex({ dim: 64, metric: 'ip' });
  await exact.add(docs, ids(docs.rows));
  const forced = new HnswIndex({ dim: 64, metric: 'ip', M: 16, efConstruction: 100, mipsTransform: true });
  await forced.add(docs, ids(docs.rows));
  const queries = { data: docs.data.subarray(0, 100 * 64), rows: 100, cols: 64 };
  const a = await measureRecall(auto, exact, queries, 10, { ef: 40 });
  const r = await measureRecall(forced, exact, queries, 10, { ef: 40 });
  assert.ok(a > r, `auto (ip space) ${a} vs reduction ${r}`);
  // Under MEASURED_AUTO_MIN vectors the norm rule decides, without building anything.
  const small = new HnswIndex({ dim: 64, metric: 'ip', M: 16 });
  await small.add({ data: docs.data.subarray(0, 500 * 64), rows: 500, cols: 64 }, ids(500));
  assert.equal(small.spaceMeasurement, undefined);
  assert.equal(small.mipsTransform, true);
});
