import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { loadBeir } from '../../src/data/beir.js';
import { Bm25Index } from '../../src/index/bm25.js';
import { loadRetrievalModel } from '../../src/models/load-retrieval-model.js';
import { passageText } from '../../src/train/examples.js';
import { mineHardNegativesToJsonl } from '../../src/train/hard-negatives-jsonl.js';
import type { MineHardNegativesToJsonlOptions, MiningReport } from '../../src/train/hard-negatives-jsonl.js';
import { bm25MiningRetriever, denseMiningRetriever } from '../../src/train/mining-retriever.js';
import type { MiningRetriever } from '../../src/train/mining-retriever.js';
import type { CorpusDoc, Qrels } from '../../src/types.js';
import { SCIFACT_DIR } from '../helpers/data.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from './tiny-bert.js';

/*
 * Mining on SciFact, checked against scores recomputed here without the miner: BM25 from a full-depth
 * search (every matching document's score), the dense model from its own embeddings of every text and a
 * plain float64 dot product. For every written line: the negatives are no judged positive of the query,
 * sit at ranks [rangeMin, rangeMax) of the query's ranking without its positives, carry their recomputed
 * scores and respect maxScore and the margins against the lowest positive score; `top` is exactly the
 * best-ranked eligible candidates; `random` is a seeded draw from them.
 */

const dir = tmpDir();
const { corpus, queries, qrels } = await loadBeir(SCIFACT_DIR, { split: 'train' });

interface Line {
  query_id: string;
  positive_id: string;
  negative_ids: string[];
  scores: { positive: number; negatives: number[] };
}

const readLines = (file: string): Line[] =>
  readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Line);

/** A query's ranking by the recomputed scores, as the miner defines it (positives and repeated texts out). */
function ranking(qid: string, order: string[], textOf: Map<string, string>): string[] {
  const judged = qrels.get(qid)!;
  const seen = new Set([...judged].filter(([, g]) => g >= 1).map(([d]) => textOf.get(d)!));
  const out: string[] = [];
  for (const id of order) {
    if ((judged.get(id) ?? 0) >= 1 || seen.has(textOf.get(id)!)) continue;
    seen.add(textOf.get(id)!);
    out.push(id);
  }
  return out;
}

interface Check {
  options: Omit<MineHardNegativesToJsonlOptions, 'out' | 'queries' | 'corpus' | 'qrels' | 'search'>;
  /** Recomputed score of (query, document). */
  score: (qid: string, docId: string) => number;
  /** The query's full ranking (best first) by the recomputed scores. */
  order: (qid: string) => string[];
  tolerance: number;
  /** `top` must equal the best eligible candidates (exact search only). */
  exactTop: boolean;
}

/** Check every written line against the recomputed scores; returns the lines by query. */
function checkLines(
  lines: Line[],
  c: Check,
  qs: Map<string, string>,
  textOf: Map<string, string>,
): Map<string, Line[]> {
  const o = c.options;
  const rangeMin = o.rangeMin ?? 0;
  const rangeMax = o.rangeMax!;
  const byQuery = new Map<string, Line[]>();
  for (const l of lines) byQuery.set(l.query_id, [...(byQuery.get(l.query_id) ?? []), l]);
  const near = (a: number, b: number, what: string) =>
    assert.ok(
      Math.abs(a - b) <= c.tolerance * Math.max(1, Math.abs(b)),
      `${what}: written ${a}, recomputed ${b}`,
    );
  for (const [qid, group] of byQuery) {
    assert.ok(qs.has(qid));
    const judged = qrels.get(qid)!;
    const positives = [...judged].filter(([, g]) => g >= 1).map(([d]) => d);
    // One line per judged positive, all with the same negatives (sentence-transformers' rows).
    assert.deepEqual(
      group.map((l) => l.positive_id),
      positives,
    );
    for (const l of group) assert.deepEqual(l.negative_ids, group[0].negative_ids);
    for (const l of group)
      near(l.scores.positive, c.score(qid, l.positive_id), `${qid} positive ${l.positive_id}`);
    const lowest = Math.min(...group.map((l) => l.scores.positive));
    const rank = ranking(qid, c.order(qid), textOf);
    const { negative_ids: negatives, scores } = group[0];
    assert.equal(negatives.length, o.numNegatives, 'incomplete queries are left out');
    assert.equal(new Set(negatives).size, negatives.length);
    negatives.forEach((id, j) => {
      const s = scores.negatives[j];
      near(s, c.score(qid, id), `${qid} negative ${id}`);
      assert.ok((judged.get(id) ?? 0) < 1, `${id} is a judged positive of ${qid}`);
      if (c.exactTop) {
        const r = rank.indexOf(id);
        assert.ok(
          r >= rangeMin && r < rangeMax,
          `${qid}: ${id} at rank ${r}, outside [${rangeMin}, ${rangeMax})`,
        );
      }
      if (o.maxScore !== undefined) assert.ok(s <= o.maxScore, `${s} > maxScore ${o.maxScore}`);
      if (o.absoluteMargin !== undefined)
        assert.ok(s + o.absoluteMargin <= lowest, `${s} + margin > ${lowest}`);
      if (o.relativeMargin !== undefined)
        assert.ok(s <= lowest * (1 - o.relativeMargin), `${s} > ${lowest} x (1 - r)`);
      if (j > 0) assert.ok(s <= scores.negatives[j - 1], 'best score first');
    });
    if (c.exactTop && (o.sampling ?? 'top') === 'top') {
      const eligible = rank.slice(rangeMin, rangeMax).filter((id) => {
        const s = c.score(qid, id);
        return (
          (o.maxScore === undefined || s <= o.maxScore) &&
          (o.absoluteMargin === undefined || s + o.absoluteMargin <= lowest) &&
          (o.relativeMargin === undefined || s <= lowest * (1 - o.relativeMargin))
        );
      });
      assert.deepEqual(
        negatives,
        eligible.slice(0, o.numNegatives),
        `${qid}: not the best eligible candidates`,
      );
    }
  }
  return byQuery;
}

async function mineTo(
  name: string,
  retriever: MiningRetriever,
  options: Check['options'],
  data: { queries: Map<string, string>; corpus: CorpusDoc[]; qrels: Qrels } = { queries, corpus, qrels },
): Promise<{ lines: Line[]; report: MiningReport }> {
  const out = path.join(dir, `${name}.jsonl`);
  const report = await mineHardNegativesToJsonl({
    ...data,
    ...retriever,
    ...options,
    form: 'ids',
    quiet: true,
    out,
  });
  return { lines: readLines(out), report };
}

test('BM25 on SciFact: every negative respects the rank window, maxScore and both margins (recomputed)', async () => {
  const bm25 = new Bm25Index();
  bm25.addDocuments(corpus);
  const textOf = new Map(corpus.map((d) => [d.id, passageText(d)] as const));
  // Recomputed: a full-depth search scores every document that shares a term with the query; others score 0.
  const full = new Map<string, { order: string[]; scores: Map<string, number> }>();
  const recompute = (qid: string) => {
    let r = full.get(qid);
    if (r === undefined) {
      const res = bm25.search([queries.get(qid)!], corpus.length);
      const scores = new Map(res.ids[0].map((id, i) => [id, res.scores[0][i]] as const));
      const rest = corpus.map((d) => d.id).filter((id) => !scores.has(id));
      full.set(qid, (r = { order: [...res.ids[0], ...rest], scores }));
    }
    return r;
  };
  const score = (qid: string, id: string) => recompute(qid).scores.get(id) ?? 0;
  const order = (qid: string) => recompute(qid).order;
  const retriever = bm25MiningRetriever(bm25);
  const configs: Check['options'][] = [
    { rangeMin: 2, rangeMax: 30, numNegatives: 3, maxScore: 12 },
    { rangeMin: 0, rangeMax: 40, numNegatives: 4, absoluteMargin: 3, maxScore: 40 },
    { rangeMin: 1, rangeMax: 50, numNegatives: 2, relativeMargin: 0.15 },
  ];
  for (const options of configs) {
    const { lines, report } = await mineTo('bm25', retriever, options);
    assert.ok(lines.length > 300, `only ${lines.length} lines for ${JSON.stringify(options)}`);
    const byQuery = checkLines(
      lines,
      { options, score, order, tolerance: 0, exactTop: true },
      queries,
      textOf,
    );
    assert.equal(byQuery.size, report.queries - report.short);
    if (options.maxScore === 12) assert.ok(report.skipped.maxScore > 1000, `${report.skipped.maxScore}`);
    if (options.absoluteMargin !== undefined) assert.ok(report.skipped.absoluteMargin > 100);
    if (options.relativeMargin !== undefined) assert.ok(report.skipped.relativeMargin > 100);
  }

  // Random sampling: each query's draw is a subset of its eligible candidates, the same for one seed.
  const random = {
    rangeMin: 0,
    rangeMax: 30,
    numNegatives: 3,
    sampling: 'random' as const,
    relativeMargin: 0.05,
  };
  const a = await mineTo('random-a', retriever, { ...random, seed: 1 });
  const b = await mineTo('random-b', retriever, { ...random, seed: 1, searchBatchSize: 7 });
  const c = await mineTo('random-c', retriever, { ...random, seed: 2 });
  assert.deepEqual(a.lines, b.lines, 'same seed, same negatives (whatever the batching)');
  assert.notDeepEqual(a.lines, c.lines, 'another seed draws others');
  checkLines(a.lines, { options: random, score, order, tolerance: 0, exactTop: true }, queries, textOf);
  const top = await mineTo('random-top', retriever, { ...random, sampling: 'top' });
  const differs = a.lines.filter(
    (l, i) => l.negative_ids.join() !== top.lines[i]?.negative_ids.join(),
  ).length;
  assert.ok(
    differs > a.lines.length / 4,
    `random drew the top candidates on ${a.lines.length - differs} lines`,
  );
});

test('a tiny dense model on SciFact: scores recomputed from its embeddings, exact and HNSW, no tensor leak', async () => {
  await initBackend();
  // A slice of SciFact: 50 training queries, their positives and 500 other abstracts.
  const qids = [...qrels.keys()].slice(0, 50);
  const sub: Qrels = new Map(qids.map((q) => [q, qrels.get(q)!] as const));
  const wanted = new Set(qids.flatMap((q) => [...qrels.get(q)!.keys()]));
  const docs = corpus.filter((d, i) => i < 500 || wanted.has(d.id));
  const qs = new Map(qids.map((q) => [q, queries.get(q)!] as const));
  const data = { queries: qs, corpus: docs, qrels: sub };
  const textOf = new Map(docs.map((d) => [d.id, passageText(d)] as const));

  const model = await loadRetrievalModel(`scratch:${tinyConfig(dir)}`, {
    seed: 3,
    maxSeqLength: 32,
    similarity: 'cosine',
    quiet: true,
  });
  try {
    // Recomputed: every text embedded by the model's towers, each vector scaled to unit length in float32,
    // the dot product summed in float64 and reported in float32 (as the exact index computes cosine).
    const unit = (m: { data: Float32Array; rows: number; cols: number }) => {
      const out = Float32Array.from(m.data);
      for (let o = 0; o < out.length; o += m.cols) {
        let ss = 0;
        for (let j = 0; j < m.cols; j++) ss += out[o + j] * out[o + j];
        const inv = 1 / Math.sqrt(ss);
        for (let j = 0; j < m.cols; j++) out[o + j] *= inv;
      }
      return { data: out, cols: m.cols };
    };
    const d = unit(await model.encodePassages(docs.map(passageText), { quiet: true }));
    const q = unit(await model.encodeQueries([...qs.values()], { quiet: true }));
    const row = (m: { data: Float32Array; cols: number }, i: number) =>
      m.data.subarray(i * m.cols, (i + 1) * m.cols);
    const cos = (x: Float32Array, y: Float32Array) => {
      let dot = 0;
      for (let j = 0; j < x.length; j++) dot += x[j] * y[j];
      return Math.fround(dot);
    };
    const docRow = new Map(docs.map((doc, i) => [doc.id, i] as const));
    const qRow = new Map(qids.map((id, i) => [id, i] as const));
    const score = (qid: string, id: string) => cos(row(q, qRow.get(qid)!), row(d, docRow.get(id)!));
    const order = (qid: string) =>
      docs
        .map((doc) => [doc.id, score(qid, doc.id)] as const)
        .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? 1 : -1))
        .map(([id]) => id);

    const tensors = tf.memory().numTensors;
    const exact = await denseMiningRetriever(model, docs, { index: 'exact', quiet: true });
    // A random model scores every pair alike (cosine 0.95-0.995) and its positives below most documents:
    // a deep window, and margins of a few thousandths.
    const options = { rangeMin: 1, rangeMax: 400, numNegatives: 2, absoluteMargin: 0.002, maxScore: 0.99 };
    const mined = await mineTo('dense', exact, options, data);
    assert.ok(mined.lines.length >= 10, `only ${mined.lines.length} lines`);
    assert.ok(mined.report.skipped.absoluteMargin > 0);
    checkLines(mined.lines, { options, score, order, tolerance: 0, exactTop: true }, qs, textOf);
    const relative = { rangeMin: 0, rangeMax: 400, numNegatives: 3, relativeMargin: 0.002 };
    const rel = await mineTo('dense-rel', exact, relative, data);
    assert.ok(rel.lines.length >= 10 && rel.report.skipped.relativeMargin > 0);
    checkLines(rel.lines, { options: relative, score, order, tolerance: 0, exactTop: true }, qs, textOf);

    // HNSW: approximate ranks, but every written score is the true similarity and passes every filter.
    const hnsw = await denseMiningRetriever(model, docs, { index: 'hnsw', quiet: true });
    const approx = await mineTo('dense-hnsw', hnsw, options, data);
    assert.ok(approx.lines.length >= 10);
    checkLines(approx.lines, { options, score, order, tolerance: 1e-5, exactTop: false }, qs, textOf);
    // The towers on tfjs instead of the default engine (ONNX Runtime, installed here): the same similarities.
    const onTfjs = await denseMiningRetriever(model, docs, { index: 'exact', quiet: true, engine: 'tfjs' });
    const viaTfjs = await mineTo('dense-tfjs', onTfjs, options, data);
    assert.ok(viaTfjs.lines.length >= 10);
    checkLines(viaTfjs.lines, { options, score, order, tolerance: 1e-5, exactTop: false }, qs, textOf);
    assert.equal(tf.memory().numTensors, tensors, 'tensors left by encoding, searching and mining');
  } finally {
    model.dispose();
  }
});
