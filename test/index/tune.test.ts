import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ExactIndex } from '../../src/index/exact.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import { measureRecall } from '../../src/index/recall.js';
import { buildTunedHnsw } from '../../src/index/tune-build.js';
import { sample } from '../../src/index/tune.js';
import { tmpDir } from '../helpers/tmp.js';
import { ids, randomMatrix } from './helpers.js';

// Random 32-d vectors with a weak graph (M 4): small ef gives low recall, so tuning has work to do.
const docs = randomMatrix(3000, 32, 41);
const tuneQueries = randomMatrix(150, 32, 42);
const heldOut = randomMatrix(150, 32, 43);

test('tune picks the smallest ef meeting the target, and the target holds on held-out queries', async () => {
  const index = new HnswIndex({ dim: 32, metric: 'l2', M: 4, efConstruction: 40, efSearch: 10 });
  await index.add(docs, ids(3000));
  const exact = new ExactIndex({ dim: 32, metric: 'l2' });
  await exact.add(docs, ids(3000));
  const before = await measureRecall(index, exact, heldOut, 10);
  const t = await index.tune({ targetRecall: 0.95, sampleQueries: tuneQueries, exact });
  assert.ok(before < 0.95, `the untuned index already had recall ${before}`);
  assert.ok(t.met && t.recallLowerBound >= 0.95, JSON.stringify(t));
  assert.equal(index.efSearch, t.ef);
  // Smallest: every ef tried before the chosen one missed the target.
  assert.ok(t.curve.slice(0, -1).every((p) => p.recallLowerBound < 0.95));
  assert.equal(t.curve[t.curve.length - 1].ef, t.ef);
  const after = await measureRecall(index, exact, heldOut, 10);
  assert.ok(after >= 0.95, `held-out recall ${after} at ef ${t.ef}`);
  // Stored with the index.
  const file = path.join(tmpDir(), 'tuned.hnsw');
  await index.save(file);
  const loaded = await HnswIndex.load(file);
  assert.equal(loaded.efSearch, t.ef);
  assert.deepEqual(loaded.tuning, t);
});

test('without sample queries, stored documents are the sample, each without its own hit', async () => {
  const index = new HnswIndex({ dim: 32, metric: 'cosine', M: 4, efConstruction: 40 });
  await index.add(docs, ids(3000));
  const t = await index.tune({ targetRecall: 0.9, sampleSize: 100 });
  assert.equal(t.source, 'documents');
  assert.equal(t.queries, 100);
  assert.ok(t.met && t.recallLowerBound >= 0.9, JSON.stringify(t));
  // Recompute the chosen point independently: the same seeded sample, k + 1 results, own id dropped.
  const rows = sample(3000, 100, 1);
  const q = { data: new Float32Array(100 * 32), rows: 100, cols: 32 };
  rows.forEach((r, i) => q.data.set(docs.data.subarray(r * 32, (r + 1) * 32), i * 32));
  const exact = new ExactIndex({ dim: 32, metric: 'cosine' });
  await exact.add(docs, ids(3000));
  const e = await exact.search(q, 11);
  const a = await index.search(q, 11, { ef: t.ef });
  let hits = 0;
  rows.forEach((r, i) => {
    const self = `d${r}`;
    const truth = new Set(e.ids[i].filter((id) => id !== self).slice(0, 10));
    hits += a.ids[i]
      .filter((id) => id !== self)
      .slice(0, 10)
      .filter((id) => truth.has(id)).length;
  });
  assert.ok(Math.abs(hits / 1000 - t.recall) < 1e-12, `${hits / 1000} vs ${t.recall}`);
});

test('buildTunedHnsw chooses M and ef on held-out documents and adds them afterwards', async () => {
  const index = await buildTunedHnsw(docs, ids(3000), {
    metric: 'l2',
    targetRecall: 0.95,
    Ms: [4, 12],
    efConstruction: 40,
    holdOut: 150,
  });
  assert.equal(index.size, 3000);
  const t = index.tuning!;
  assert.equal(t.source, 'held-out');
  assert.ok(t.met, JSON.stringify(t));
  assert.equal(index.M, t.M);
  const exact = new ExactIndex({ dim: 32, metric: 'l2' });
  await exact.add(docs, ids(3000));
  assert.ok((await measureRecall(index, exact, heldOut, 10)) >= 0.95);
});
