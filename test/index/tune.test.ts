import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ArgumentError } from '../../src/errors.js';
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

/** Gaussian rows scaled by uniform(0.2, 5): the norms on which the MIPS-to-L2 reduction's graph is poor. */
function variedNorms(rows: number, seed: number) {
  const m = randomMatrix(rows, 32, seed);
  let s = seed >>> 0;
  for (let r = 0; r < rows; r++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const scale = 0.2 + 4.8 * (s / 2 ** 32);
    for (let j = 0; j < 32; j++) m.data[r * 32 + j] *= scale;
  }
  return m;
}

test('buildTunedHnsw under ip tries both graph spaces and keeps the one meeting the target with the smaller ef', async () => {
  const vectors = variedNorms(3000, 51);
  const index = await buildTunedHnsw(vectors, ids(3000), {
    metric: 'ip',
    targetRecall: 0.95,
    Ms: [8],
    efConstruction: 40,
    holdOut: 150,
  });
  const t = index.tuning!;
  const c = t.candidates!;
  assert.deepEqual(c.map((x) => x.space).sort(), ['ip', 'l2-reduction']);
  const met = c.filter((x) => x.met);
  assert.ok(met.length > 0, JSON.stringify(c));
  const cheapest = Math.min(...met.map((x) => x.ef));
  assert.equal(t.ef, cheapest);
  assert.equal(t.space, met.find((x) => x.ef === cheapest)!.space);
  assert.equal(index.mipsTransform, t.space === 'l2-reduction');
  // The spaces differ on this data: the reduction needs a wider beam (or misses the target).
  const reduction = c.find((x) => x.space === 'l2-reduction')!;
  assert.ok(!reduction.met || reduction.ef > t.ef, JSON.stringify(c));
  // The target holds on new queries, and the choice is saved.
  const exact = new ExactIndex({ dim: 32, metric: 'ip' });
  await exact.add(vectors, ids(3000));
  assert.ok((await measureRecall(index, exact, variedNorms(150, 52), 10)) >= 0.95);
  const file = path.join(tmpDir(), 'tuned-ip.hnsw');
  await index.save(file);
  assert.deepEqual((await HnswIndex.load(file)).tuning, t);
  // A forced space is the only one tried.
  const forced = await buildTunedHnsw(vectors, ids(3000), {
    metric: 'ip',
    targetRecall: 0.9,
    Ms: [8],
    efConstruction: 40,
    holdOut: 150,
    mipsTransform: false,
  });
  assert.deepEqual(
    forced.tuning!.candidates!.map((x) => x.space),
    ['ip'],
  );
  await assert.rejects(
    buildTunedHnsw(vectors, ids(3000), { Ms: [8], target: 0.9 } as never),
    (e: unknown) => e instanceof ArgumentError && /unknown option 'target'/.test(e.message),
  );
  const plain = new HnswIndex({ dim: 32, metric: 'ip' });
  await plain.add(vectors, ids(3000));
  await assert.rejects(
    plain.tune({ target: 0.9 } as never),
    (e: unknown) => e instanceof ArgumentError && /unknown option 'target'/.test(e.message),
  );
});

test('tune on a tiny index (k + 1 documents or fewer): recall 1 when every neighbour is found', async () => {
  for (const n of [5, 8, 11]) {
    const vectors = randomMatrix(n, 16, 60 + n);
    const index = new HnswIndex({ dim: 16, metric: 'cosine' });
    await index.add(vectors, ids(n));
    const t = await index.tune({ targetRecall: 0.98, sampleSize: n });
    // n - 1 other documents exist for each stored query; all are found at any ef on a graph this small.
    const exact = new ExactIndex({ dim: 16, metric: 'cosine' });
    await exact.add(vectors, ids(n));
    const got = await index.search(vectors, Math.min(n, 11), { ef: t.ef });
    assert.deepEqual(got.ids, (await exact.search(vectors, Math.min(n, 11))).ids);
    assert.equal(t.recall, 1, `n ${n}: ${JSON.stringify(t)}`);
    assert.ok(t.met, `n ${n}`);
  }
});

test('tune refuses bad input with a message naming the argument', async () => {
  const vectors = randomMatrix(200, 16, 70);
  const index = new HnswIndex({ dim: 16, metric: 'cosine', M: 8 });
  const bad = (args: object, re: RegExp) =>
    assert.rejects(index.tune(args), (e: unknown) => e instanceof ArgumentError && re.test(e.message));
  await bad({}, /^index: cannot tune an empty index/);
  await index.add(vectors, ids(200));
  await bad({ sampleSize: 0 }, /^sampleSize: must be a positive integer, got 0/);
  await bad({ efs: [5, -1] }, /^efs: value -1 at position 1 is not a positive integer/);
  await bad(
    { sampleQueries: randomMatrix(5, 8, 73) },
    /^sampleQueries: dimension mismatch: vectors have 8 dimensions, the index has 16/,
  );
  await assert.rejects(
    buildTunedHnsw(vectors, ids(200), { Ms: [16, 0] }),
    (e: unknown) =>
      e instanceof ArgumentError && /^Ms: value 0 at position 1 is not a positive integer/.test(e.message),
  );
  await bad({ efs: [4, 8] }, /^efs: every value is below the search depth 11 .*got 4, 8/);
  // A reference with another metric, another width or other documents measures the mismatch.
  const l2 = new ExactIndex({ dim: 16, metric: 'l2' });
  await l2.add(vectors, ids(200));
  await bad({ exact: l2 }, /^exact: does not match the index \(index: 200 x 16 cosine, exact: 200 x 16 l2\)/);
  const others = new ExactIndex({ dim: 16, metric: 'cosine' });
  await others.add(randomMatrix(200, 16, 71), ids(200, 'x'));
  await bad({ exact: others }, /^exact: returned id 'x\d+', which the index does not hold/);
  const fewer = new ExactIndex({ dim: 16, metric: 'cosine' });
  await fewer.add(randomMatrix(100, 16, 72), ids(100));
  await bad({ exact: fewer }, /^exact: does not match the index .*exact: 100 x 16 cosine/);
  // The right reference is accepted.
  const same = new ExactIndex({ dim: 16, metric: 'cosine' });
  await same.add(vectors, ids(200));
  assert.equal((await index.tune({ exact: same, targetRecall: 0.9 })).source, 'documents');
});

test('tune of a truncateDim index: the default reference truncates too, also for full-width sampleQueries', async () => {
  // Only the first 8 of 32 coordinates carry signal differences the graph sees; a full-width reference
  // would rank other neighbours and report a low recall for a graph that finds every truncated neighbour.
  const vectors = randomMatrix(300, 32, 80);
  const index = new HnswIndex({ dim: 32, truncateDim: 8, metric: 'cosine', M: 16, efConstruction: 200 });
  await index.add(vectors, ids(300));
  const t = await index.tune({ targetRecall: 0.95, sampleQueries: randomMatrix(50, 32, 81) });
  assert.ok(t.met && t.recall >= 0.95, JSON.stringify(t));
  const full = new ExactIndex({ dim: 32, metric: 'cosine' });
  await full.add(vectors, ids(300));
  await assert.rejects(
    index.tune({ exact: full }),
    /^ArgumentError: exact: .*truncateDim 8|exact: .*truncateDim 8/,
  );
});

test('buildTunedHnsw: holdOut must be an integer in [1, a tenth of the vectors]', async () => {
  const vectors = randomMatrix(500, 16, 90);
  for (const holdOut of [600, 51, 0, -1, 2.5]) {
    await assert.rejects(
      buildTunedHnsw(vectors, ids(500), { metric: 'cosine', Ms: [8], holdOut }),
      (e: unknown) =>
        e instanceof ArgumentError &&
        e.message ===
          `holdOut: must be an integer in [1, 50] (at most a tenth of the 500 vectors), got ${holdOut}`,
    );
  }
  // The default shrinks to a tenth on a small corpus: 38 of 380.
  const small = await buildTunedHnsw(randomMatrix(380, 16, 91), ids(380), {
    metric: 'cosine',
    Ms: [8],
    targetRecall: 0.5,
  });
  assert.equal(small.tuning!.queries, 38);
  assert.equal(small.size, 380);
});
