import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import { ExactIndex } from '../../src/index/exact.js';
import { HnswIndex } from '../../src/index/hnsw.js';
import {
  DEFAULT_EF_MARGIN,
  DEFAULT_EF_MEASUREMENTS,
  DEFAULT_EF_MEASUREMENTS_M16,
  HNSW_DEFAULTS,
  defaultEfSearch,
} from '../../src/index/hnsw-defaults.js';
import { measureRecall } from '../../src/index/recall.js';
import { tmpDir } from '../helpers/tmp.js';
import { rewriteContainer } from './container-helpers.js';
import { ids, randomMatrix, rows } from './helpers.js';

test('the default beam meets recall@10 >= 0.98 on held-out random 384-d queries at 2k and 5k vectors, M 48 and 16', async () => {
  const docs = randomMatrix(5000, 384, 11);
  const queries = randomMatrix(200, 384, 12);
  const exact = new ExactIndex({ dim: 384, metric: 'cosine' });
  await exact.add(docs, ids(5000));
  const exact2k = new ExactIndex({ dim: 384, metric: 'cosine' });
  await exact2k.add(rows(docs, 0, 2000), ids(2000));
  for (const M of [48, 16]) {
    // One graph grown to 2k and then to 5k: HNSW inserts one vector at a time, so the 2k graph is the one
    // a 2k build makes (and the default beam must follow the growth).
    const hnsw = new HnswIndex({ dim: 384, metric: 'cosine', ...(M === 48 ? {} : { M }) });
    for (const [from, to, truth] of [
      [0, 2000, exact2k],
      [2000, 5000, exact],
    ] as const) {
      await hnsw.add(rows(docs, from, to), ids(5000).slice(from, to));
      assert.equal(hnsw.efSearchIsDefault, true);
      assert.equal(hnsw.efSearch, defaultEfSearch(to, 10, M));
      const recall = await measureRecall(hnsw, truth, queries, 10);
      assert.ok(recall >= 0.98, `recall@10 = ${recall} at ${to} vectors, M ${M}, ef ${hnsw.efSearch}`);
      // The test can tell a sufficient beam from a starved one, and the default is not the old fixed 1536.
      assert.ok((await measureRecall(hnsw, truth, queries, 10, { ef: 10 })) < 0.95);
      assert.ok(hnsw.efSearch < 1536, `default beam ${hnsw.efSearch} at ${to} vectors`);
    }
  }
});

test('defaultEfSearch is monotone in n, at least k, at most max(n, k), and passes the measured points', () => {
  let last = 0;
  for (let n = 0; n <= 2_000_000; n = n < 100 ? n + 1 : Math.ceil(n * 1.013)) {
    const ef = defaultEfSearch(n);
    assert.ok(Number.isInteger(ef), `ef(${n}) = ${ef}`);
    assert.ok(ef >= last, `ef(${n}) = ${ef} < ${last}`);
    assert.ok(ef >= 10 && ef <= Math.max(n, 10), `ef(${n}) = ${ef}`);
    for (const k of [1, 10, 100, 1000])
      assert.equal(defaultEfSearch(n, k), Math.max(k, defaultEfSearch(n, 1)));
    last = ef;
  }
  // Through every measured beam times the margin (between measured sizes: between their beams).
  for (const [n, ef] of DEFAULT_EF_MEASUREMENTS) {
    assert.equal(defaultEfSearch(n), Math.ceil(DEFAULT_EF_MARGIN * ef - 1e-9));
  }
  for (let i = 1; i < DEFAULT_EF_MEASUREMENTS.length; i++) {
    const [n0] = DEFAULT_EF_MEASUREMENTS[i - 1];
    const [n1] = DEFAULT_EF_MEASUREMENTS[i];
    const mid = Math.round(Math.sqrt(n0 * n1));
    assert.ok(defaultEfSearch(mid) > defaultEfSearch(n0) && defaultEfSearch(mid) < defaultEfSearch(n1));
  }
  // Beyond the largest measured size the last segment's growth continues (log-log slope kept).
  const [[na, ea], [nb, eb]] = DEFAULT_EF_MEASUREMENTS.slice(-2);
  const slope = Math.log(eb / ea) / Math.log(nb / na);
  const at1M = DEFAULT_EF_MARGIN * eb * (1e6 / nb) ** slope;
  assert.ok(Math.abs(defaultEfSearch(1_000_000) - at1M) <= 1, `${defaultEfSearch(1_000_000)} vs ${at1M}`);
  // Small indexes: never a beam wider than the index (nor narrower than k).
  assert.equal(defaultEfSearch(40), 40);
  assert.equal(defaultEfSearch(3, 5), 5);
  assert.equal(HNSW_DEFAULTS.efSearch, defaultEfSearch(DEFAULT_EF_MEASUREMENTS.at(-1)![0]));
  assert.throws(
    () => defaultEfSearch(100, 10, 0),
    (e: unknown) => e instanceof ArgumentError && /M/.test(e.message),
  );

  assert.throws(
    () => defaultEfSearch(-1),
    (e: unknown) => e instanceof ArgumentError && /\bn\b/.test(e.message),
  );
  assert.throws(() => defaultEfSearch(1.5), ArgumentError);
  assert.throws(
    () => defaultEfSearch(100, 0),
    (e: unknown) => e instanceof ArgumentError && /k/.test(e.message),
  );
});

test('defaultEfSearch by M: the M-16 measurements at M 16 (and below), M 48 at 48 and above, falling with M', () => {
  for (const [n, ef] of DEFAULT_EF_MEASUREMENTS_M16) {
    assert.equal(defaultEfSearch(n, 10, 16), Math.ceil(DEFAULT_EF_MARGIN * ef - 1e-9));
  }
  for (let n = 0; n <= 500_000; n = n < 100 ? n + 1 : Math.ceil(n * 1.05)) {
    assert.equal(defaultEfSearch(n, 10, 8), defaultEfSearch(n, 10, 16));
    assert.equal(defaultEfSearch(n, 10, 64), defaultEfSearch(n, 10, 48));
    let prev = Infinity;
    for (const M of [4, 12, 16, 20, 24, 32, 40, 48, 96]) {
      const ef = defaultEfSearch(n, 10, M);
      assert.ok(ef <= prev, `ef(${n}, M ${M}) = ${ef} > ${prev}`);
      assert.ok(ef >= defaultEfSearch(Math.max(0, n - 1), 10, M), `not monotone in n at ${n}, M ${M}`);
      prev = ef;
    }
  }
  // Strictly between the curves in between (where the index is larger than both beams).
  const mid = defaultEfSearch(20000, 10, 28);
  assert.ok(mid > defaultEfSearch(20000) && mid < defaultEfSearch(20000, 10, 16), `${mid}`);
});

test('search without ef uses the size default; an explicit efSearch (option, assignment, tune) is honoured', async () => {
  const docs = randomMatrix(1500, 64, 5);
  const q = randomMatrix(30, 64, 6);
  const auto = new HnswIndex({ dim: 64, metric: 'l2', M: 8, efConstruction: 40 });
  await auto.add(docs, ids(1500));
  const beam = defaultEfSearch(1500, 10, 8);
  assert.equal(auto.efSearch, beam);
  assert.deepEqual(await auto.search(q, 10), await auto.search(q, 10, { ef: beam }));
  // Under k > the default beam, the beam is k.
  assert.ok(beam < 300);
  assert.deepEqual(await auto.search(q, 300), await auto.search(q, 300, { ef: 300 }));
  const starved = await auto.search(q, 10, { ef: 10 });
  assert.notDeepEqual(starved.ids, (await auto.search(q, 10)).ids, 'ef 10 and the default must differ here');
  // The default follows removals too (live vectors, not rows).
  await auto.remove(ids(1500).slice(0, 600));
  assert.equal(auto.efSearch, defaultEfSearch(900, 10, 8));

  const fixed = new HnswIndex({ dim: 64, metric: 'l2', M: 8, efConstruction: 40, efSearch: 10 });
  await fixed.add(docs, ids(1500));
  assert.equal(fixed.efSearch, 10);
  assert.equal(fixed.efSearchIsDefault, false);
  assert.deepEqual(await fixed.search(q, 10), await fixed.search(q, 10, { ef: 10 }));
  // The same seed and data make the same graph: the fixed beam finds what ef 10 found on the default index.
  assert.deepEqual((await fixed.search(q, 10)).ids, starved.ids);
  fixed.efSearch = undefined;
  assert.equal(fixed.efSearchIsDefault, true);
  assert.equal(fixed.efSearch, beam);
  fixed.efSearch = 77;
  assert.equal(fixed.efSearch, 77);
  assert.throws(
    () => (fixed.efSearch = 0),
    (e: unknown) => e instanceof ArgumentError && /efSearch/.test(e.message),
  );
  assert.throws(() => new HnswIndex({ dim: 4, efSearch: 2.5 }), /efSearch/);

  const tuned = new HnswIndex({ dim: 64, metric: 'l2', M: 8, efConstruction: 40 });
  await tuned.add(docs, ids(1500));
  const t = await tuned.tune({ sampleQueries: q, targetRecall: 0.9 });
  assert.equal(tuned.efSearchIsDefault, false);
  assert.equal(tuned.efSearch, t.ef);
});

test('save/load: a default beam stays the size rule, an explicit one stays fixed, old files keep their number', async () => {
  const dir = tmpDir();
  const docs = randomMatrix(1200, 16, 8);
  const q = randomMatrix(10, 16, 9);
  const auto = new HnswIndex({ dim: 16, metric: 'cosine', M: 8, efConstruction: 40 });
  await auto.add(rows(docs, 0, 1000), ids(1000));
  const autoFile = path.join(dir, 'auto.hnsw');
  await auto.save(autoFile);
  const autoLoaded = await HnswIndex.load(autoFile);
  assert.equal(autoLoaded.efSearchIsDefault, true);
  assert.equal(autoLoaded.efSearch, defaultEfSearch(1000, 10, 8));
  assert.deepEqual(await autoLoaded.search(q, 10), await auto.search(q, 10));
  // Still a rule after loading: it follows the size as the loaded index grows.
  await autoLoaded.add(rows(docs, 1000, 1200), ids(1200).slice(1000));
  assert.equal(autoLoaded.efSearch, defaultEfSearch(1200, 10, 8));

  const fixed = new HnswIndex({ dim: 16, metric: 'cosine', M: 8, efConstruction: 40, efSearch: 23 });
  await fixed.add(rows(docs, 0, 1000), ids(1000));
  const fixedFile = path.join(dir, 'fixed.hnsw');
  await fixed.save(fixedFile);
  const fixedLoaded = await HnswIndex.load(fixedFile);
  assert.equal(fixedLoaded.efSearchIsDefault, false);
  assert.equal(fixedLoaded.efSearch, 23);
  await fixedLoaded.add(rows(docs, 1000, 1200), ids(1200).slice(1000));
  assert.equal(fixedLoaded.efSearch, 23);

  // A file from before the size rule: the fixed default 1536 as a number and no marker. It loads, and
  // searches with 1536 as it did (loading never changes an index's recall).
  const old = path.join(dir, 'old.hnsw');
  await rewriteContainer(autoFile, old, (header) => {
    delete header.efSearchDefault;
    header.efSearch = 1536;
  });
  const oldLoaded = await HnswIndex.load(old);
  assert.equal(oldLoaded.efSearchIsDefault, false);
  assert.equal(oldLoaded.efSearch, 1536);
  assert.deepEqual(await oldLoaded.search(q, 10), await auto.search(q, 10, { ef: 1536 }));

  const bad = path.join(dir, 'bad.hnsw');
  await rewriteContainer(autoFile, bad, (header) => {
    header.efSearchDefault = 'yes';
  });
  await assert.rejects(
    HnswIndex.load(bad),
    (e: unknown) => e instanceof InputFormatError && /efSearchDefault/.test(e.message),
  );
});
