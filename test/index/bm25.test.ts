import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { loadBeir } from '../../src/data/beir.js';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import { evaluateRun } from '../../src/eval/metrics.js';
import { Bm25Index, lengthToNormByte, normByteToLength } from '../../src/index/bm25.js';
import { searchResultToRun } from '../../src/index/result-run.js';
import type { CorpusDoc } from '../../src/types.js';
import { tmpDir } from '../helpers/tmp.js';
import { fixtureJson } from './helpers.js';
import { SCIFACT_DIR } from '../helpers/data.js';

interface Bm25Fixture {
  k1: number;
  b: number;
  docs: CorpusDoc[];
  results: { query: string; ids: string[]; scores: number[] }[];
  quantised: Record<string, number>;
}

test('document lengths are quantised like Lucene SmallFloat.intToByte4/byte4ToInt', () => {
  const fx = fixtureJson<Bm25Fixture>('bm25.json');
  for (const [length, decoded] of Object.entries(fx.quantised)) {
    assert.equal(normByteToLength(lengthToNormByte(Number(length))), decoded, `length ${length}`);
  }
  assert.ok(lengthToNormByte(2 ** 31 - 1) <= 255);
});

test('scores and ranking equal the Python Lucene-BM25 reference', () => {
  const fx = fixtureJson<Bm25Fixture>('bm25.json');
  const bm25 = new Bm25Index({ k1: fx.k1, b: fx.b });
  bm25.addDocuments(fx.docs.slice(0, 25));
  bm25.addDocuments(fx.docs.slice(25));
  const got = bm25.search(
    fx.results.map((r) => r.query),
    10,
  );
  fx.results.forEach((e, q) => {
    assert.deepEqual(got.ids[q], e.ids, `query '${e.query}'`);
    e.scores.forEach((s, j) =>
      assert.ok(Math.abs(got.scores[q][j] - s) < 1e-5, `${got.scores[q][j]} vs ${s}`),
    );
  });
});

test('queries with no matching term return fewer results; errors are clear', () => {
  const bm25 = new Bm25Index();
  assert.throws(() => bm25.search(['x'], 1), /index: cannot search an empty index/);
  bm25.addDocuments([
    { id: 'a', title: 'Cats', text: 'Cats purr.' },
    { id: 'b', title: '', text: 'Dogs bark loudly.' },
  ]);
  const r = bm25.search(['purring cat', 'zebra'], 2);
  assert.deepEqual(r.ids, [['a'], []]);
  assert.throws(() => bm25.search(['x'], 3), /k: k = 3 exceeds the number of indexed documents \(2\)/);
  assert.throws(
    () => bm25.addDocuments([{ id: 'a', title: '', text: 'again' }]),
    /docs: duplicate document id 'a'/,
  );
  assert.throws(() => new Bm25Index({ b: 2 }), /b: must be in \[0, 1\], got 2/);
});

test('save/load round-trips; truncated files are refused', async () => {
  const fx = fixtureJson<Bm25Fixture>('bm25.json');
  const dir = tmpDir();
  const bm25 = new Bm25Index();
  bm25.addDocuments(fx.docs);
  const file = path.join(dir, 'bm25.idx');
  await bm25.save(file);
  const loaded = await Bm25Index.load(file);
  const queries = fx.results.map((r) => r.query);
  assert.deepEqual(loaded.search(queries, 10), bm25.search(queries, 10));
  const bytes = await fs.readFile(file);
  await fs.writeFile(file, bytes.subarray(0, bytes.length - 1));
  await assert.rejects(
    Bm25Index.load(file),
    (e: unknown) => e instanceof InputFormatError && /bm25\.idx: truncated index file/.test(e.message),
  );
});

const SCIFACT = SCIFACT_DIR;

test('SciFact test nDCG@10 is within 0.01 of Pyserini flat BM25 (0.679)', async () => {
  const { corpus, queries, qrels } = await loadBeir(SCIFACT, { split: 'test' });
  const bm25 = new Bm25Index();
  bm25.addDocuments(corpus);
  const qids = [...queries.keys()];
  const run = searchResultToRun(
    bm25.search(
      qids.map((q) => queries.get(q)!),
      100,
    ),
    qids,
  );
  const { mean } = evaluateRun(qrels, run, ['ndcg_cut.10', 'recall.100']);
  assert.ok(Math.abs(mean.ndcg_cut_10 - 0.679) <= 0.01, `nDCG@10 = ${mean.ndcg_cut_10}`);
  assert.ok(Math.abs(mean.recall_100 - 0.925) <= 0.01, `R@100 = ${mean.recall_100}`);
});

test('scoreDocuments gives the scores search reports, at any rank, and 0 without a shared term', async () => {
  const { corpus, queries } = await loadBeir('examples/data/scifact', { split: 'test' });
  const index = new Bm25Index();
  index.addDocuments(corpus);
  const texts = [...queries.values()].slice(0, 5);
  const full = index.search(texts, 200);
  texts.forEach((t, i) => {
    const ids = full.ids[i];
    // Ranks 0, 1, 57 and the last: the same float32 score as the search, bit for bit.
    const picked = [0, 1, 57, ids.length - 1].map((r) => ids[r]);
    assert.deepEqual(
      [...index.scoreDocuments(t, picked)],
      [0, 1, 57, ids.length - 1].map((r) => full.scores[i][r]),
    );
  });
  const again = new Bm25Index();
  again.addDocuments([
    { id: 'a', title: '', text: 'cats purr' },
    { id: 'b', title: '', text: 'dogs bark' },
  ]);
  assert.equal(again.scoreDocuments('cats', ['b'])[0], 0);
  assert.ok(again.scoreDocuments('cats', ['a'])[0] > 0);
  assert.throws(() => again.scoreDocuments('cats', ['zz']), /ids: document 'zz' is not in the index/);
  // Documents added later are found (the id map is rebuilt).
  again.addDocuments([{ id: 'c', title: '', text: 'cats again' }]);
  assert.ok(again.scoreDocuments('cats', ['c'])[0] > 0);
});

test('search refuses options (a { filter } from a JavaScript caller would otherwise be ignored silently)', () => {
  const index = new Bm25Index();
  index.addDocuments([
    { id: 'a', title: '', text: 'hello world' },
    { id: 'b', title: '', text: 'hello bar' },
  ]);
  const filter = { filter: (id: string) => id === 'b' } as unknown as Record<string, never>;
  assert.throws(
    () => index.search(['hello'], 2, filter),
    (e) => e instanceof ArgumentError && e.argument === 'options',
  );
  // Empty options pass, with the same result as none.
  assert.deepEqual(index.search(['hello'], 2, {}).ids, index.search(['hello'], 2).ids);
});
