import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { readRun } from '../../src/data/run.js';
import { evaluateRun, mrrAt, rankDocuments } from '../../src/eval/metrics.js';
import { formatEvaluationTable, RetrievalEvaluator } from '../../src/eval/retrieval-evaluator.js';
import { compareRuns } from '../../src/eval/significance.js';
import type { RetrievalEncoder } from '../../src/eval/retrieval-evaluator.js';
import { Bm25Index } from '../../src/index/bm25.js';
import { recallOfResults } from '../../src/index/recall.js';
import type { CorpusDoc, Matrix, Qrels, Run } from '../../src/types.js';
import { ArgumentError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';
import { randomMatrix } from '../index/helpers.js';

/** A deterministic stand-in encoder: hashed bag of words, so similar texts get similar vectors. */
function hashEncoder(dim = 32): RetrievalEncoder & { calls: number } {
  return {
    calls: 0,
    async encode(texts: string[]): Promise<Matrix> {
      this.calls++;
      const data = new Float32Array(texts.length * dim);
      texts.forEach((t, i) => {
        for (const w of t.toLowerCase().split(/\W+/).filter(Boolean)) {
          let h = 2166136261;
          for (let c = 0; c < w.length; c++) h = Math.imul(h ^ w.charCodeAt(c), 16777619);
          data[i * dim + ((h >>> 0) % dim)] += 1;
        }
      });
      return { data, rows: texts.length, cols: dim };
    },
  };
}

const WORDS =
  'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau'.split(
    ' ',
  );

function collection(): { corpus: CorpusDoc[]; queries: Map<string, string>; qrels: Qrels } {
  const corpus: CorpusDoc[] = [];
  for (let i = 0; i < 240; i++) {
    const words = Array.from(
      { length: 12 },
      (_, j) => WORDS[(i * 7 + j * j * 3 + (i % 5) * j) % WORDS.length],
    );
    corpus.push({
      id: `doc${i}`,
      title: i % 3 === 0 ? `title ${WORDS[i % WORDS.length]}` : '',
      text: words.join(' '),
    });
  }
  const queries = new Map<string, string>();
  const qrels: Qrels = new Map();
  for (let q = 0; q < 15; q++) {
    const d = (q * 37) % 240;
    queries.set(`q${q}`, corpus[d].text.split(' ').slice(0, 4).join(' '));
    qrels.set(
      `q${q}`,
      new Map([
        [`doc${d}`, 1],
        [`doc${(d + 1) % 240}`, q % 2 === 0 ? 2 : 0],
      ]),
    );
  }
  return { corpus, queries, qrels };
}

test('rows match the written runs re-scored with evaluateRun, and recall@10 vs exact is right', async () => {
  const { corpus, queries, qrels } = collection();
  const prefix = path.join(tmpDir(), 'runs', 'toy');
  const evaluator = new RetrievalEvaluator({
    corpus,
    queries,
    qrels,
    indexes: ['exact', 'hnsw', 'bm25'],
    ef: [100, 200],
    k: 100,
    chunkSize: 50,
    runOut: prefix,
    quiet: true,
  });
  const encoder = hashEncoder();
  const table = await evaluator.evaluate(encoder);
  assert.equal(encoder.calls, 5 + 1, 'corpus in chunks of 50, then the queries');
  assert.deepEqual(
    table.rows.map((r) => r.name),
    ['exact', 'hnsw ef=100', 'hnsw ef=200', 'bm25'],
  );
  assert.equal(table.documents, 240);
  assert.equal(table.queries, 15);
  const exactRun = await readRun(`${prefix}.exact.run`);
  for (const row of table.rows) {
    assert.equal(row.runFile, `${prefix}.${row.index === 'hnsw' ? `hnsw-ef${row.ef}` : row.index}.run`);
    const run = await readRun(row.runFile!);
    const { mean } = evaluateRun(qrels, run, ['ndcg_cut.10', 'recall.100', 'map_cut.100']);
    // The run file holds scores as text, so sums may differ in the last bits.
    const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9;
    assert.ok(close(row.ndcg10, mean.ndcg_cut_10), `${row.name} nDCG@10`);
    assert.ok(close(row.recall100, mean.recall_100), `${row.name} R@100`);
    assert.ok(close(row.map100, mean.map_cut_100), `${row.name} MAP@100`);
    const mrr =
      [...run].reduce((s, [q, docs]) => s + mrrAt(rankDocuments(docs), qrels.get(q)!, 10), 0) / run.size;
    assert.ok(close(row.mrr10, mrr));
    if (row.index === 'hnsw') {
      const top10 = (r: typeof run): string[][] =>
        [...queries.keys()].map((q) => rankDocuments(r.get(q)!).slice(0, 10));
      assert.equal(row.recallVsExact, recallOfResults(top10(run), top10(exactRun), 10));
    } else {
      assert.equal(row.recallVsExact, undefined);
    }
  }
  // The BM25 row is exactly what a Bm25Index gives.
  const bm25 = new Bm25Index();
  bm25.addDocuments(corpus);
  const ids = [...queries.keys()];
  const direct = bm25.search(
    ids.map((q) => queries.get(q)!),
    100,
  );
  const bmRun = await readRun(`${prefix}.bm25.run`);
  ids.forEach((q, i) => assert.deepEqual(rankDocuments(bmRun.get(q)!), direct.ids[i]));
  const text = formatEvaluationTable(table);
  assert.match(text, /^index\s+nDCG@10\s+MRR@10\s+R@100\s+MAP@100\s+R@10 vs exact$/m);
  assert.match(text, /^hnsw ef=200\s+\d\.\d{4}†?\s+\d\.\d{4}\s+\d\.\d{4}†?\s+\d\.\d{4}†?\s+\d\.\d{4}$/m);
  assert.match(text, /^bm25(\s+\d\.\d{4}†?){4}\s+-$/m);
  assert.match(text, /240 documents, 15 queries, depth 100/);

  // Rows after the first carry the Holm-corrected paired t-test against it, as `compare` computes it.
  const runs = new Map<string, Run>();
  for (const row of table.rows) runs.set(row.name, await readRun(row.runFile!));
  assert.equal(table.rows[0].significance, undefined);
  for (const [field, measure] of [
    ['ndcg10', 'ndcg_cut.10'],
    ['map100', 'map_cut.100'],
  ] as const) {
    const expected = compareRuns(qrels, runs, { measure, baseline: 'exact', correction: 'holm' });
    for (const pair of expected.pairs) {
      const got = table.rows.find((r) => r.name === pair.run)!.significance![field]!;
      assert.ok(Math.abs(got.pValue - pair.pValueCorrected) < 1e-9, `${pair.run} ${measure}`);
      assert.equal(got.significant, pair.significant);
    }
  }
});

test('formatEvaluationTable marks significant differences from the first row with †', () => {
  const base = { ndcg10: 0.5, mrr10: 0.5, recall100: 0.9, map100: 0.4 };
  const text = formatEvaluationTable({
    rows: [
      { name: 'exact', index: 'exact', ...base },
      {
        name: 'bm25',
        index: 'bm25',
        ...base,
        ndcg10: 0.3,
        significance: {
          ndcg10: { pValue: 0.001, significant: true },
          map100: { pValue: 0.2, significant: false },
        },
      },
    ],
    k: 100,
    documents: 10,
    queries: 5,
  });
  assert.match(text, /^bm25\s+0\.3000†\s+0\.5000\s+0\.9000\s+0\.4000\s+-$/m);
  assert.match(text, /† differs from exact \(paired test, Holm-corrected over the rows, p < 0\.05\)/);
});

test('MRR@10 is reciprocal rank cut at 10', async () => {
  // One-dimensional "embeddings": the query vector is [1], so documents rank by their value.
  const corpus: CorpusDoc[] = Array.from({ length: 20 }, (_, i) => ({
    id: `d${i}`,
    title: '',
    text: String(20 - i),
  }));
  const encoder: RetrievalEncoder = {
    async encode(texts) {
      return {
        data: Float32Array.from(texts, (t) => (t.startsWith('query') ? 1 : Number(t))),
        rows: texts.length,
        cols: 1,
      };
    },
  };
  const queries = new Map([
    ['a', 'query a'],
    ['b', 'query b'],
  ]);
  const qrels: Qrels = new Map([
    ['a', new Map([['d1', 1]])], // rank 2
    ['b', new Map([['d12', 1]])], // rank 13: beyond the cut
  ]);
  const table = await new RetrievalEvaluator({
    corpus,
    queries,
    qrels,
    indexes: ['exact'],
    quiet: true,
  }).evaluate(encoder);
  assert.equal(table.k, 20, 'depth is capped at the corpus size');
  assert.equal(table.rows[0].mrr10, (1 / 2 + 0) / 2);
  assert.match(formatEvaluationTable(table), /depth 20 < 100, so R@100 and MAP@100 are cut at 20/);
});

test('configuration errors are clear', async () => {
  const { corpus, queries, qrels } = collection();
  await assert.rejects(
    new RetrievalEvaluator({ corpus, queries, qrels, indexes: ['exact', 'bm25'] }).evaluate(),
    /encoder: indexes exact need an encoder \(only bm25 works without\)/,
  );
  assert.throws(
    () => new RetrievalEvaluator({ corpus, queries, qrels, indexes: ['faiss' as 'exact'] }),
    /indexes: unknown index 'faiss'/,
  );
  assert.throws(
    () => new RetrievalEvaluator({ corpus, queries, qrels, ef: [0] }),
    /ef: must be positive integers, got 0/,
  );
  assert.throws(() => new RetrievalEvaluator({ corpus: [], queries, qrels }), /corpus: is empty/);
  const short: RetrievalEncoder = {
    async encode(texts) {
      return { data: new Float32Array((texts.length - 1) * 4), rows: texts.length - 1, cols: 4 };
    },
  };
  await assert.rejects(
    new RetrievalEvaluator({ corpus, queries, qrels, indexes: ['exact'], quiet: true }).evaluate(short),
    /encoder: returned 239 vectors for 240 texts/,
  );
  // Without an encoder, the default is BM25 alone.
  const table = await new RetrievalEvaluator({ corpus, queries, qrels, quiet: true }).evaluate();
  assert.deepEqual(
    table.rows.map((r) => r.name),
    ['bm25'],
  );
});

test('ef below the depth and repeated ef values are refused, never rows of a beam that was not used', () => {
  const { corpus, queries, qrels } = collection();
  assert.throws(
    () => new RetrievalEvaluator({ corpus, queries, qrels, ef: [16, 64, 256], k: 100 }),
    (e: unknown) => {
      assert.ok(e instanceof ArgumentError);
      assert.match(
        e.message,
        /^ef: 16, 64 are below the retrieval depth k = 100; .* give ef >= 100 or a smaller k$/,
      );
      return true;
    },
  );
  assert.throws(
    () => new RetrievalEvaluator({ corpus, queries, qrels, ef: [64, 64], k: 10 }),
    /ef: lists 64 twice/,
  );
  // The depth is capped at the corpus size, and so is the bound.
  assert.throws(
    () => new RetrievalEvaluator({ corpus: corpus.slice(0, 30), queries, qrels, ef: [20], k: 100 }),
    /ef: 20 is below the retrieval depth k = 30 \(the corpus size\)/,
  );
  // ef applies to the beam searches only: with exact (and bm25) alone it is a mistake, not a depth check.
  assert.throws(
    () => new RetrievalEvaluator({ corpus, queries, qrels, indexes: ['exact', 'bm25'], ef: [50], k: 100 }),
    (e: unknown) =>
      e instanceof ArgumentError && /^ef: applies to the hnsw and pgvector indexes only/.test(e.message),
  );
  // hnsw.truncateDim would truncate the graph's vectors but not the exact reference of its recall column.
  assert.throws(
    () => new RetrievalEvaluator({ corpus, queries, qrels, hnsw: { truncateDim: 8 } }),
    (e: unknown) =>
      e instanceof ArgumentError && /^hnsw\.truncateDim: use the evaluator's truncateDim/.test(e.message),
  );
  assert.throws(
    () => new RetrievalEvaluator({ corpus, queries, qrels, efs: [16] } as never),
    /options: unknown option 'efs' \(did you mean 'ef'\?\) of RetrievalEvaluator/,
  );
});

test("the dense metric defaults to the model's similarity; a bi-encoder embeds queries and corpus with its own towers", async () => {
  const { corpus, queries, qrels } = collection();
  const base = hashEncoder();
  // Unnormalised vectors: ip and cosine rank differently, so the default matters.
  const options = { corpus, queries, qrels, indexes: ['exact' as const], k: 100, quiet: true };
  const ip = await new RetrievalEvaluator({ ...options, metric: 'ip' }).evaluate(base);
  const cosine = await new RetrievalEvaluator({ ...options, metric: 'cosine' }).evaluate(base);
  assert.notEqual(ip.rows[0].ndcg10, cosine.rows[0].ndcg10, 'precondition: the metrics disagree here');
  const trainedCosine = { similarity: 'cosine', encode: base.encode.bind(base) };
  const byDefault = await new RetrievalEvaluator(options).evaluate(trainedCosine);
  assert.equal(byDefault.metric, 'cosine');
  assert.deepEqual(byDefault.rows, cosine.rows);
  assert.match(formatEvaluationTable(byDefault), /depth 100, metric cosine/);

  // Untied towers: the passage tower sees only documents, the query tower only queries.
  const seen = { query: [] as string[], passage: [] as string[] };
  const twoTowers = {
    similarity: 'dot',
    async encodeQueries(texts: string[]) {
      seen.query.push(...texts);
      return base.encode(texts);
    },
    async encodePassages(texts: string[]) {
      seen.passage.push(...texts);
      return base.encode(texts);
    },
  };
  const table = await new RetrievalEvaluator({ ...options, chunkSize: 100 }).evaluate(twoTowers);
  assert.deepEqual(seen.query, [...queries.values()]);
  assert.equal(seen.passage.length, corpus.length);
  assert.equal(table.metric, 'ip');
  assert.deepEqual(table.rows, ip.rows);
});

test('issue 12: a query with an empty judgement map is not evaluated (MRR@10 and the means agree)', async () => {
  const corpus: CorpusDoc[] = Array.from({ length: 5 }, (_, i) => ({
    id: `d${i}`,
    title: '',
    text: String(5 - i),
  }));
  const encoder: RetrievalEncoder = {
    async encode(texts) {
      return {
        data: Float32Array.from(texts, (t) => (t.startsWith('query') ? 1 : Number(t))),
        rows: texts.length,
        cols: 1,
      };
    },
  };
  const queries = new Map([
    ['a', 'query a'],
    ['b', 'query b'],
  ]);
  const qrels: Qrels = new Map([
    ['a', new Map([['d1', 1]])], // rank 2
    ['b', new Map<string, number>()],
  ]);
  const table = await new RetrievalEvaluator({
    corpus,
    queries,
    qrels,
    indexes: ['exact'],
    quiet: true,
  }).evaluate(encoder);
  assert.equal(table.rows[0].mrr10, 1 / 2);
  assert.equal(table.rows[0].ndcg10, 1 / Math.log2(3));
});

test('issue 12: an HNSW row far below exact search is flagged, naming the other ip graph', async () => {
  const n = 2000;
  const d = 32;
  const docs = randomMatrix(n, d, 91);
  const scales = randomMatrix(n, 1, 92);
  for (let r = 0; r < n; r++) {
    const s = 0.2 + 4.8 * (0.5 + 0.5 * Math.tanh(scales.data[r]));
    for (let j = 0; j < d; j++) docs.data[r * d + j] *= s;
  }
  const qs = randomMatrix(40, d, 93);
  const encoder: RetrievalEncoder = {
    async encode(texts) {
      const data = new Float32Array(texts.length * d);
      texts.forEach((t, i) => {
        const [src, row] = t.startsWith('q') ? [qs, Number(t.slice(1))] : [docs, Number(t)];
        data.set(src.data.subarray(row * d, (row + 1) * d), i * d);
      });
      return { data, rows: texts.length, cols: d };
    },
  };
  const corpus: CorpusDoc[] = Array.from({ length: n }, (_, i) => ({
    id: `d${i}`,
    title: '',
    text: String(i),
  }));
  const queries = new Map(Array.from({ length: 40 }, (_, i) => [`q${i}`, `q${i}`] as const));
  const qrels: Qrels = new Map(
    Array.from({ length: 40 }, (_, i) => [`q${i}`, new Map([[`d${i}`, 1]])] as const),
  );
  const run = async (mipsTransform: boolean | 'auto') =>
    formatEvaluationTable(
      await new RetrievalEvaluator({
        corpus,
        queries,
        qrels,
        indexes: ['hnsw'],
        ef: [16],
        k: 10,
        hnsw: { M: 16, efConstruction: 100, mipsTransform },
        quiet: true,
      }).evaluate(encoder),
    );
  const forced = await run(true);
  assert.match(forced, /hnsw ip graph: MIPS-to-L2 reduction/);
  assert.match(
    forced,
    /warning: hnsw ef=16 finds 0\.\d+ of exact search's top 10 \(< 0\.95\); .*--mips-transform off/,
  );
  const auto = await run('auto');
  assert.match(auto, /hnsw ip graph: hnswlib's ip space/);
});
