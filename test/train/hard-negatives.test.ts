import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArgumentError } from '../../src/errors.js';
import { examplesFromQrels, passageText } from '../../src/train/examples.js';
import { mineHardNegatives } from '../../src/train/hard-negatives.js';
import type { CorpusDoc, Qrels } from '../../src/types.js';

const corpus: CorpusDoc[] = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'].map((id) => ({
  id,
  title: `T${id}`,
  text: `text ${id}`,
}));
const queries = new Map([
  ['q1', 'first'],
  ['q2', 'second'],
  ['q3', 'unjudged-positive'],
]);
const qrels: Qrels = new Map([
  [
    'q1',
    new Map([
      ['d1', 1],
      ['d2', 0],
    ]),
  ],
  [
    'q2',
    new Map([
      ['d3', 2],
      ['d0', 1],
    ]),
  ],
  ['q3', new Map([['d4', 0]])], // no positive: not mined, not an example
]);
// The retriever ranks d0..d5 for every query, except 'second' which starts with its positives.
const ranking = (text: string) =>
  text === 'second' ? ['d3', 'd0', 'd5', 'd5', 'd4', 'd1', 'd2'] : ['d0', 'd1', 'd2', 'd3', 'd4', 'd5'];

test('negatives come from the given ranks, in rank order, never a judged positive', async () => {
  const calls: string[][] = [];
  const search = (texts: string[]) => {
    calls.push(texts);
    return texts.map(ranking);
  };
  const mined = await mineHardNegatives({
    queries,
    corpus,
    qrels,
    search,
    rangeMin: 1,
    rangeMax: 5,
    count: 2,
  });
  // q1: ranks 1..4 = d1 (positive, skipped), d2 (judged 0: a fine negative), d3, d4
  assert.deepEqual(mined.get('q1'), ['d2', 'd3']);
  // q2: its positives d3 and d0 and the repeated d5 take no rank: ranks 0.. = d5, d4, d1, d2
  assert.deepEqual(mined.get('q2'), ['d4', 'd1']);
  assert.equal(mined.has('q3'), false);
  assert.deepEqual(calls, [['first', 'second']]);
  const again = await mineHardNegatives({
    queries,
    corpus,
    qrels,
    search,
    rangeMin: 1,
    rangeMax: 5,
    count: 2,
  });
  assert.deepEqual(again, mined, 'deterministic');
  // A narrow range.
  const narrow = await mineHardNegatives({
    queries,
    corpus,
    qrels,
    search,
    rangeMin: 0,
    rangeMax: 2,
    count: 2,
  });
  // Judged positives take no rank (as sentence-transformers masks them before counting).
  assert.deepEqual(narrow.get('q2'), ['d5', 'd4']);
  assert.deepEqual(narrow.get('q1'), ['d0', 'd2']);
  // Batching of search calls.
  calls.length = 0;
  await mineHardNegatives({ queries, corpus, qrels, search, count: 1, searchBatchSize: 1 });
  assert.deepEqual(calls, [['first'], ['second']]);
});

test('bad options and a misbehaving retriever are named errors', async () => {
  const search = (texts: string[]) => texts.map(ranking);
  const expectArg = (p: Promise<unknown>, argument: string, message: RegExp) =>
    assert.rejects(
      p,
      (e: unknown) => e instanceof ArgumentError && e.argument === argument && message.test(e.message),
    );
  await expectArg(
    mineHardNegatives({ queries, corpus, qrels, search, rangeMin: -1 }),
    'rangeMin',
    /must be an integer >= 0, got -1/,
  );
  await expectArg(
    mineHardNegatives({ queries, corpus, qrels, search, rangeMin: 5, rangeMax: 5 }),
    'rangeMax',
    /must be an integer > rangeMin \(5\), got 5/,
  );
  await expectArg(
    mineHardNegatives({ queries, corpus, qrels, search, count: 0 }),
    'count',
    /must be an integer >= 1, got 0/,
  );
  await expectArg(
    mineHardNegatives({ queries, corpus, qrels, search: (t) => t.map(() => ['nope']) }),
    'search',
    /returned document 'nope', which is not in the corpus/,
  );
  await expectArg(
    mineHardNegatives({ queries, corpus, qrels, search: () => [] }),
    'search',
    /returned 0 rankings for 2 queries/,
  );
  await expectArg(
    mineHardNegatives({ queries: new Map(), corpus, qrels, search }),
    'queries',
    /query 'q1' of the qrels has no text/,
  );
});

test('examplesFromQrels makes one example per relevant pair, with BEIR passage texts', () => {
  const examples = examplesFromQrels({ queries, corpus, qrels });
  assert.deepEqual(
    examples.map((e) => [e.queryId, e.positiveId, e.query, e.positive]),
    [
      ['q1', 'd1', 'first', 'Td1 text d1'],
      ['q2', 'd3', 'second', 'Td3 text d3'],
      ['q2', 'd0', 'second', 'Td0 text d0'],
    ],
  );
  assert.equal(passageText({ id: 'x', title: '', text: 'body' }), 'body');
  assert.equal(examplesFromQrels({ queries, corpus, qrels, minGrade: 2 }).length, 1);
  assert.throws(
    () => examplesFromQrels({ queries, corpus, qrels: new Map([['q1', new Map([['d1', 0]])]]) }),
    /qrels: no positive judgements \(grade >= 1\): nothing to train on/,
  );
  assert.throws(
    () => examplesFromQrels({ queries, corpus: corpus.slice(2), qrels }),
    /corpus: document 'd1' \(judged for query 'q1'\) is not in the corpus/,
  );
});

test('issue 12: a document with the text of a judged positive (a duplicate under another id) is no negative, nor two of one text', async () => {
  const dupCorpus: CorpusDoc[] = [
    { id: 'p', title: '', text: 'Identical abstract text.' },
    { id: 'copy', title: '', text: 'Identical abstract text.' },
    { id: 'n1', title: '', text: 'other' },
    { id: 'n1-copy', title: '', text: 'other' },
    { id: 'n2', title: '', text: 'third' },
  ];
  const mined = await mineHardNegatives({
    queries: new Map([['q', 'query']]),
    corpus: dupCorpus,
    qrels: new Map([['q', new Map([['p', 1]])]]),
    search: (texts) => texts.map(() => ['p', 'copy', 'n1', 'n1-copy', 'n2']),
    count: 2,
  });
  assert.deepEqual(mined.get('q'), ['n1', 'n2']);
});
