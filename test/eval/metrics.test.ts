import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  averagePrecision,
  compareIds,
  evaluateRun,
  mapAt,
  mrrAt,
  ndcgAt,
  precisionAt,
  rankDocuments,
  recallAt,
} from '../../src/eval/metrics.js';
import { ArgumentError } from '../../src/errors.js';
import { readQrels, writeQrels } from '../../src/data/qrels.js';
import { readRun, writeRun } from '../../src/data/run.js';
import { tmpDir } from '../helpers/tmp.js';
import path from 'node:path';

const j = (entries: [string, number][]): Map<string, number> => new Map(entries);

test('rankDocuments: score descending, ties by document id descending in string order', () => {
  const ranking = rankDocuments(
    new Map([
      ['d9', 1],
      ['d10', 1],
      ['d2', 3],
      ['D5', 1],
      ['d1', -2],
    ]),
  );
  // 'd9' > 'd10' > 'D5' as strings (not as numbers), so that is the tie order.
  assert.deepEqual(ranking, ['d2', 'd9', 'd10', 'D5', 'd1']);
});

test('rankDocuments breaks ties in UTF-8 byte order like strcmp, not UTF-16 order', () => {
  const astral = 'd\u{1F600}';
  const fullwidthA = 'd\uFF21';
  assert.ok(compareIds(astral, fullwidthA) > 0);
  assert.ok(astral < fullwidthA, 'JS string order differs, which is why compareIds exists');
  assert.deepEqual(
    rankDocuments(
      new Map([
        [fullwidthA, 1],
        [astral, 1],
        ['dé', 1],
      ]),
    ),
    [astral, fullwidthA, 'dé'],
  );
});

test('rankDocuments rejects a NaN score', () => {
  assert.throws(() => rankDocuments(new Map([['d1', Number.NaN]])), /scores: score of document 'd1' is NaN/);
});

// Values from trec_eval itself, as asserted in pytrec_eval's test suite (tests/pytrec_eval_tests.py):
// qrels q1 = {d1: 0, d2: 1, d3: 0}.
test('ndcg matches trec_eval values quoted by pytrec_eval', () => {
  const q1 = j([
    ['d1', 0],
    ['d2', 1],
    ['d3', 0],
  ]);
  const rank = (scores: [string, number][]) => rankDocuments(new Map(scores));
  const d2third = rank([
    ['d1', 1.0],
    ['d2', 0.0],
    ['d3', 1.5],
  ]);
  assert.equal(ndcgAt(d2third, q1, Infinity), 0.5);
  assert.equal(ndcgAt(d2third, q1, 3), 0.5);
  assert.equal(ndcgAt(d2third, q1, 2), 0);
  assert.equal(ndcgAt(d2third, q1, 1), 0);
  assert.equal(ndcgAt(d2third, q1, 1000), 0.5);
  const d2second = rank([
    ['d1', 4.0],
    ['d2', 2.0],
    ['d3', 1.5],
  ]);
  assert.ok(Math.abs(ndcgAt(d2second, q1, Infinity) - 0.6309297535714575) < 1e-12);
  assert.equal(ndcgAt(['d2', 'd3', 'd1'], q1, 1), 1);
});

test('ndcg: graded gains, ideal DCG from all judged grades > 0 including unretrieved ones', () => {
  const judged = j([
    ['a', 3],
    ['b', 1],
    ['c', 0],
    ['x', 2],
    ['neg', -1],
  ]);
  const dcg = 1 / Math.log2(2) + 3 / Math.log2(4); // b at rank 1, a at rank 3
  const ideal = 3 + 2 / Math.log2(3) + 1 / Math.log2(4);
  assert.ok(Math.abs(ndcgAt(['b', 'c', 'a'], judged, 10) - dcg / ideal) < 1e-12);
  const idealAt2 = 3 + 2 / Math.log2(3);
  assert.ok(Math.abs(ndcgAt(['b', 'c', 'a'], judged, 2) - 1 / idealAt2) < 1e-12);
  assert.equal(ndcgAt(['neg', 'c'], judged, 10), 0, 'negative and zero grades give no gain');
  assert.equal(ndcgAt(['a'], j([['a', 0]]), 10), 0, 'a query without relevant documents scores 0');
});

test('precision divides by k even when fewer documents were retrieved', () => {
  assert.equal(precisionAt(['d1', 'd2'], j([['d2', 1]]), 10), 0.1);
  assert.equal(precisionAt(['d1', 'd2'], j([['d2', 2]]), 1), 0);
  assert.throws(() => precisionAt(['d1'], j([]), Infinity), /k: must be a positive integer, got Infinity/);
});

test('recall counts grade >= 1 in the denominator, retrieved or not', () => {
  const judged = j([
    ['d1', 1],
    ['d2', 2],
    ['d3', 0],
    ['d4', 1],
  ]);
  assert.equal(recallAt(['d1', 'd3', 'd9'], judged, 3), 1 / 3);
  assert.equal(recallAt(['d3', 'd1'], judged, 1), 0);
  assert.equal(recallAt(['d1'], j([['d1', 0]]), 10), 0);
});

test('reciprocal rank, cut and uncut', () => {
  const judged = j([['d3', 2]]);
  assert.equal(mrrAt(['d1', 'd2', 'd3'], judged, Infinity), 1 / 3);
  assert.equal(mrrAt(['d1', 'd2', 'd3'], judged, 2), 0);
  assert.equal(mrrAt(['d1', 'd2', 'd3'], j([['d2', 0]]), 10), 0);
});

test('average precision divides by all relevant documents; map_cut only counts the top k', () => {
  const judged = j([
    ['d2', 1],
    ['d3', 1],
    ['d9', 1],
  ]);
  assert.ok(Math.abs(averagePrecision(['d2', 'd1', 'd3'], judged) - (1 + 2 / 3) / 3) < 1e-12);
  assert.ok(Math.abs(mapAt(['d2', 'd1', 'd3'], judged, 2) - 1 / 3) < 1e-12);
  assert.equal(mapAt(['d2', 'd1', 'd3'], judged, 3), averagePrecision(['d2', 'd1', 'd3'], judged));
});

test('single-query metrics reject bad cutoffs and duplicated documents', () => {
  assert.throws(() => ndcgAt(['a'], j([]), 0), /k: must be a positive integer or Infinity, got 0/);
  assert.throws(() => recallAt(['a'], j([]), 2.5), /k: must be a positive integer or Infinity, got 2.5/);
  assert.throws(() => mapAt(['a', 'b', 'a'], j([]), 5), /ranking: document 'a' appears more than once/);
});

test('evaluateRun: trec_eval means over shared queries, -c over all judged queries', () => {
  const qrels = new Map([
    ['q1', j([['d1', 1]])],
    ['q2', j([['d2', 1]])],
    ['q3', j([['d3', 0]])],
  ]);
  const run = new Map([
    ['q1', new Map([['d1', 1]])],
    ['q3', new Map([['d3', 1]])],
    ['qX', new Map([['d1', 1]])],
  ]);
  const result = evaluateRun(qrels, run, ['P.1', 'recip_rank']);
  assert.deepEqual([...result.perQuery.keys()], ['q1', 'q3']);
  assert.deepEqual(result.perQuery.get('q3'), { P_1: 0, recip_rank: 0 });
  assert.deepEqual(result.mean, { P_1: 0.5, recip_rank: 0.5 });
  const complete = evaluateRun(qrels, run, ['P.1', 'recip_rank'], { complete: true });
  assert.deepEqual(complete.mean, { P_1: 1 / 3, recip_rank: 1 / 3 });
});

test('evaluateRun: ignoreIdenticalIds drops the document named like the query', () => {
  const qrels = new Map([['q1', j([['d1', 1]])]]);
  const run = new Map([
    [
      'q1',
      new Map([
        ['q1', 5],
        ['d1', 1],
      ]),
    ],
  ]);
  assert.equal(evaluateRun(qrels, run, ['recip_rank']).mean.recip_rank, 0.5);
  assert.equal(evaluateRun(qrels, run, ['recip_rank'], { ignoreIdenticalIds: true }).mean.recip_rank, 1);
});

test('evaluateRun errors: unsupported measure, no shared query', () => {
  const qrels = new Map([['q1', j([['d1', 1]])]]);
  const run = new Map([['1', new Map([['d1', 1]])]]);
  assert.throws(
    () => evaluateRun(qrels, new Map([['q1', new Map([['d1', 1]])]]), ['ndcg@10']),
    (e: unknown) =>
      e instanceof ArgumentError &&
      /measures: unsupported measure 'ndcg@10'; supported: ndcg_cut\.K, ndcg, map, map_cut\.K, recip_rank, P\.K, recall\.K/.test(
        e.message,
      ),
  );
  assert.throws(
    () => evaluateRun(qrels, run, ['map']),
    /run: no query of the run has judgements in the qrels \(run query ids look like '1'\)/,
  );
});

test('issue 12: an empty per-query map is no query, in qrels or run, and agrees with the file path', async () => {
  const qrels = new Map([
    [
      'q1',
      j([
        ['d1', 0],
        ['d2', 1],
        ['d3', 0],
      ]),
    ],
    ['q2', new Map<string, number>()],
    [
      'q3',
      j([
        ['d2', 1],
        ['d3', 1],
      ]),
    ],
  ]);
  const run = new Map([
    [
      'q1',
      j([
        ['d1', 3],
        ['d2', 2],
        ['d3', 1],
      ]),
    ],
    [
      'q2',
      j([
        ['d1', 3],
        ['d2', 2],
      ]),
    ],
    [
      'q3',
      j([
        ['d1', 3],
        ['d2', 2],
        ['d3', 1],
      ]),
    ],
  ]);
  // By hand: q1 AP = 1/2, nDCG = 1/log2(3); q3 AP = (1/2 + 2/3) / 2, nDCG = (1/log2 3 + 1/2) / (1 + 1/log2 3).
  const ap = (0.5 + (0.5 + 2 / 3) / 2) / 2;
  const nd = (1 / Math.log2(3) + (1 / Math.log2(3) + 0.5) / (1 + 1 / Math.log2(3))) / 2;
  const memory = evaluateRun(qrels, run, ['map', 'ndcg']);
  assert.ok(Math.abs(memory.mean.map - ap) < 1e-12 && Math.abs(ap - 0.5417) < 1e-4, String(memory.mean.map));
  assert.ok(
    Math.abs(memory.mean.ndcg - nd) < 1e-12 && Math.abs(nd - 0.6622) < 1e-4,
    String(memory.mean.ndcg),
  );
  assert.deepEqual([...memory.perQuery.keys()], ['q1', 'q3']);

  const dir = tmpDir();
  await writeQrels(path.join(dir, 'qrels'), qrels);
  await writeRun(path.join(dir, 'run'), run);
  const fromFiles = [await readQrels(path.join(dir, 'qrels')), await readRun(path.join(dir, 'run'))] as const;
  for (const complete of [false, true]) {
    const a = evaluateRun(qrels, run, ['map', 'ndcg', 'P.5'], { complete });
    const b = evaluateRun(...fromFiles, ['map', 'ndcg', 'P.5'], { complete });
    assert.deepEqual(a, b, `complete: ${complete}`);
  }

  // The same for an empty map in the run: q3 has no line, so only -c counts it (as 0), over q1 and q3.
  const emptyRun = new Map([...run, ['q3', new Map<string, number>()]]);
  assert.deepEqual([...evaluateRun(qrels, emptyRun, ['map']).perQuery.keys()], ['q1']);
  assert.equal(evaluateRun(qrels, emptyRun, ['map'], { complete: true }).mean.map, 0.5 / 2);
  await writeRun(path.join(dir, 'run2'), emptyRun);
  assert.deepEqual(
    evaluateRun(qrels, emptyRun, ['map'], { complete: true }),
    evaluateRun(fromFiles[0], await readRun(path.join(dir, 'run2')), ['map'], { complete: true }),
  );
});
