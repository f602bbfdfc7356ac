import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArgumentError } from '../../src/errors.js';
import { mineHardNegativeQueries, mineHardNegatives } from '../../src/train/hard-negatives.js';
import { filterOf } from '../../src/train/hard-negatives-select.js';
import type { MineHardNegativesOptions, MinedQuery, MiningSummary } from '../../src/train/hard-negatives.js';
import type { CorpusDoc, Qrels } from '../../src/types.js';

// 20 documents; for every query the retriever scores d_i as 20 - i (d0 best). Query 'a' has two judged
// positives, d3 (score 17) and d7 (score 13), and a judged non-relevant d1 (a fine negative).
const corpus: CorpusDoc[] = Array.from({ length: 20 }, (_, i) => ({
  id: `d${i}`,
  title: '',
  text: `doc ${i}`,
}));
const queries = new Map([
  ['a', 'query a'],
  ['b', 'query b'],
]);
const qrels: Qrels = new Map([
  [
    'a',
    new Map([
      ['d3', 1],
      ['d7', 2],
      ['d1', 0],
    ]),
  ],
  ['b', new Map([['d0', 1]])],
]);
const scoreOf = (id: string) => 20 - Number(id.slice(1));
const calls: { texts: string[]; k: number }[] = [];
const retriever: Pick<MineHardNegativesOptions, 'search' | 'scoreDocuments'> = {
  search: (texts, k) => {
    calls.push({ texts, k });
    const ids = corpus.slice(0, k).map((d) => d.id);
    return { ids: texts.map(() => ids), scores: texts.map(() => ids.map(scoreOf)) };
  },
  scoreDocuments: (texts, ids) => texts.map((_, i) => ids[i].map(scoreOf)),
};
const base = { queries, corpus, qrels, ...retriever, rangeMax: 10, numNegatives: 3, quiet: true };

async function mine(
  options: MineHardNegativesOptions,
): Promise<{ byQuery: Map<string, MinedQuery>; summary: MiningSummary }> {
  const byQuery = new Map<string, MinedQuery>();
  const it = mineHardNegativeQueries(options);
  for (;;) {
    const r = await it.next();
    if (r.done === true) return { byQuery, summary: r.value };
    byQuery.set(r.value.queryId, r.value);
  }
}
const negIds = async (options: MineHardNegativesOptions, qid = 'a') =>
  (await mine(options)).byQuery.get(qid)!.negatives.map((n) => n.id);

test('the window counts ranks without the judged positives; positives carry their scores', async () => {
  calls.length = 0;
  const { byQuery, summary } = await mine(base);
  const a = byQuery.get('a')!;
  // Ranking of 'a' without d3 and d7: d0 d1 d2 d4 d5 d6 d8 d9 d10 d11 (ranks 0-9).
  assert.deepEqual(
    a.negatives.map((n) => [n.id, n.score]),
    [
      ['d0', 20],
      ['d1', 19],
      ['d2', 18],
    ],
  );
  assert.deepEqual(
    a.positives.map((p) => [p.id, p.text, p.score]),
    [
      ['d3', 'doc 3', 17],
      ['d7', 'doc 7', 13],
    ],
  );
  // One search for both queries, deep enough for rangeMax plus the most positives of a query.
  assert.deepEqual(calls, [{ texts: ['query a', 'query b'], k: 12 }]);
  assert.deepEqual(summary, {
    queries: 2,
    short: 0,
    candidates: 20,
    skipped: { absoluteMargin: 0, relativeMargin: 0, maxScore: 0, minScore: 0 },
    negatives: 6,
  });
  assert.deepEqual(await negIds({ ...base, rangeMin: 2 }), ['d2', 'd4', 'd5']);
});

test('margins compare with the lowest positive score, as sentence-transformers', async () => {
  // absolute: dropped when score + 2 > 13, i.e. eligible scores <= 11: d9 d10 d11 in the window.
  const abs = await mine({ ...base, absoluteMargin: 2 });
  assert.deepEqual(
    abs.byQuery.get('a')!.negatives.map((n) => n.id),
    ['d9', 'd10', 'd11'],
  );
  // Query b (positive d0 = 20): only scores <= 18 pass, the window d1..d10 loses d1 (19).
  assert.deepEqual(abs.summary.skipped, {
    absoluteMargin: 7 + 1,
    relativeMargin: 0,
    maxScore: 0,
    minScore: 0,
  });
  // relative: dropped when score > 13 * (1 - 0.2) = 10.4: d10 and d11 remain; the query is short.
  const rel = await mine({ ...base, relativeMargin: 0.2 });
  assert.deepEqual(
    rel.byQuery.get('a')!.negatives.map((n) => n.id),
    ['d10', 'd11'],
  );
  assert.equal(rel.summary.short, 1);
  // absoluteMargin 0: nothing above the hardest positive (13).
  assert.deepEqual(await negIds({ ...base, absoluteMargin: 0 }), ['d8', 'd9', 'd10']);
  // Ties: a negative may equal the positive minus the margin, not exceed it (ST's strict `>`).
  assert.equal(filterOf(11, 13, { absoluteMargin: 2 }), undefined);
  assert.equal(filterOf(11.5, 13, { absoluteMargin: 2 }), 'absoluteMargin');
  assert.equal(filterOf(6.5, 13, { relativeMargin: 0.5 }), undefined);
  assert.equal(filterOf(6.6, 13, { relativeMargin: 0.5 }), 'relativeMargin');
  assert.equal(filterOf(5, 13, { maxScore: 5, minScore: 5 }), undefined);
  // In sentence-transformers' order: the first filter that drops a candidate is the one counted.
  assert.equal(filterOf(20, 13, { absoluteMargin: 0, relativeMargin: 0, maxScore: 0 }), 'absoluteMargin');
});

test('maxScore and minScore bound the negative scores', async () => {
  assert.deepEqual(await negIds({ ...base, maxScore: 15 }), ['d5', 'd6', 'd8']);
  assert.deepEqual(await negIds({ ...base, minScore: 18.5 }), ['d0', 'd1']);
  // The default window widens to rangeMin + 10 * numNegatives when a filter is set (sentence-transformers).
  calls.length = 0;
  await mine({ ...base, rangeMax: undefined, numNegatives: 1, maxScore: 15 });
  assert.equal(calls[0].k, 10 + 2);
  calls.length = 0;
  await mine({ ...base, rangeMax: undefined, numNegatives: 1 });
  assert.equal(calls[0].k, 1 + 2);
});

test('a rescorer replaces the retriever scores for the filters, the order and the output', async () => {
  const seen: { query: string; passages: string[] }[] = [];
  // Reverses the retriever: 'doc i' scores i.
  const rescore = (query: string, passages: string[]) => {
    seen.push({ query, passages });
    return passages.map((p) => Number(p.split(' ')[1]));
  };
  const { byQuery } = await mine({ ...base, rescore });
  const a = byQuery.get('a')!;
  assert.deepEqual(
    a.negatives.map((n) => [n.id, n.score]),
    [
      ['d11', 11],
      ['d10', 10],
      ['d9', 9],
    ],
  );
  assert.deepEqual(
    a.positives.map((p) => p.score),
    [3, 7],
  );
  // One call per query: its positives, then the window's candidates.
  assert.deepEqual(seen[0], {
    query: 'query a',
    passages: ['doc 3', 'doc 7', ...[0, 1, 2, 4, 5, 6, 8, 9, 10, 11].map((i) => `doc ${i}`)],
  });
  // Margins use the rescored positives (lowest 3): absoluteMargin 1 keeps scores <= 2.
  assert.deepEqual(await negIds({ ...base, rescore, absoluteMargin: 1, scoreDocuments: undefined }), [
    'd2',
    'd1',
    'd0',
  ]);
  await assert.rejects(
    mine({ ...base, rescore: (_q, p) => p.map(() => Number.NaN) }),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'rescore' && /non-finite/.test(e.message),
  );
  await assert.rejects(
    mine({ ...base, rescore: () => [1] }),
    (e: unknown) =>
      e instanceof ArgumentError && e.argument === 'rescore' && /returned 1 scores for 12/.test(e.message),
  );
});

test('random sampling is a seeded draw from the eligible candidates, sorted by score', async () => {
  const opts = { ...base, sampling: 'random' as const, maxScore: 16 };
  const eligible = new Set(['d4', 'd5', 'd6', 'd8', 'd9', 'd10', 'd11']);
  const draws = new Set<string>();
  for (const seed of [1, 2, 3, 4, 5]) {
    const first = await negIds({ ...opts, seed });
    assert.deepEqual(await negIds({ ...opts, seed }), first, 'same seed, same draw');
    assert.deepEqual(await negIds({ ...opts, seed, searchBatchSize: 1 }), first, 'batching does not matter');
    assert.equal(first.length, 3);
    assert.equal(new Set(first).size, 3);
    for (const id of first) assert.ok(eligible.has(id), id);
    const scores = first.map(scoreOf);
    assert.deepEqual(
      scores,
      [...scores].sort((x, y) => y - x),
      'best score first',
    );
    draws.add(first.join(','));
  }
  assert.ok(draws.size > 1, `five seeds drew one set: ${[...draws].join(' | ')}`);
  // Fewer eligible than numNegatives: all of them.
  assert.deepEqual(await negIds({ ...opts, maxScore: 10.5 }), ['d10', 'd11']);
});

test('a short ranking from repeated texts is searched again, deeper', async () => {
  const dup: CorpusDoc[] = corpus.map((d, i) => (i < 6 ? { ...d, text: 'same text' } : d));
  const ks: number[] = [];
  const mined = await mineHardNegatives({
    queries: new Map([['b', 'query b']]),
    corpus: dup,
    qrels: new Map([['b', new Map([['d19', 1]])]]),
    search: (texts, k) => {
      ks.push(k);
      return texts.map(() => dup.slice(0, k).map((d) => d.id));
    },
    rangeMax: 4,
    numNegatives: 4,
  });
  // d0..d5 share one text: d0 stands for it; then d6, d7, d8.
  assert.deepEqual(mined.get('b'), ['d0', 'd6', 'd7', 'd8']);
  assert.deepEqual(ks, [5, 10]);
});

test('options that cannot work are named errors', async () => {
  const expectArg = (p: Promise<unknown>, argument: string, message: RegExp) =>
    assert.rejects(
      p,
      (e: unknown) => e instanceof ArgumentError && e.argument === argument && message.test(e.message),
    );
  await expectArg(
    mine({ ...base, scoreDocuments: undefined, relativeMargin: 0.1 }),
    'scoreDocuments',
    /give scoreDocuments/,
  );
  const idsOnly = {
    ...base,
    search: (texts: string[], k: number) => texts.map(() => corpus.slice(0, k).map((d) => d.id)),
  };
  await expectArg(mine({ ...idsOnly, maxScore: 3 }), 'search', /without scores/);
  assert.deepEqual(await negIds(idsOnly), ['d0', 'd1', 'd2'], 'ids alone: rank order');
  await expectArg(mine({ ...base, sampling: 'best' as 'top' }), 'sampling', /'top' or 'random'/);
  await expectArg(mine({ ...base, maxScore: Number.NaN }), 'maxScore', /finite/);
  await expectArg(mine({ ...base, numNegatives: 2, count: 3 }), 'count', /former name/);
  await expectArg(mine({ ...base, seed: -1 }), 'seed', />= 0/);
  await expectArg(
    mine({ ...base, scoreDocuments: (t) => t.map(() => [1]) }),
    'scoreDocuments',
    /returned 1 scores for 2 documents/,
  );
  await expectArg(
    mine({ ...base, search: (t) => ({ ids: t.map(() => ['d0', 'd1']), scores: t.map(() => [1]) }) }),
    'search',
    /returned 1 scores for 2 ids/,
  );
  await expectArg(
    mine({ ...base, corpus: corpus.slice(0, 5) }),
    'corpus',
    /document 'd7' \(judged for query 'a'\) is not in the corpus/,
  );
});
