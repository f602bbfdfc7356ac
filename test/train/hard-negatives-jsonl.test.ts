import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ArgumentError } from '../../src/errors.js';
import { checkExampleFields } from '../../src/train/examples.js';
import { mineHardNegativesToJsonl, minedLines } from '../../src/train/hard-negatives-jsonl.js';
import type { MineHardNegativesOptions } from '../../src/train/hard-negatives.js';
import type { TrainingExample } from '../../src/train/examples.js';
import type { CorpusDoc, Qrels } from '../../src/types.js';
import { tmpDir } from '../helpers/tmp.js';

// 12 documents scored 12 - i for every query; q1 has two positives, q2 one, q3 none (not mined).
const corpus: CorpusDoc[] = Array.from({ length: 12 }, (_, i) => ({
  id: `d${i}`,
  title: `T${i}`,
  text: `body ${i}`,
}));
const queries = new Map([
  ['q1', 'first query'],
  ['q2', 'second query'],
  ['q3', 'third query'],
]);
const qrels: Qrels = new Map([
  [
    'q1',
    new Map([
      ['d2', 1],
      ['d5', 1],
    ]),
  ],
  ['q2', new Map([['d0', 2]])],
  ['q3', new Map([['d1', 0]])],
]);
const scoreOf = (id: string) => 12 - Number(id.slice(1));
const base: MineHardNegativesOptions = {
  queries,
  corpus,
  qrels,
  search: (texts, k) => {
    const ids = corpus.slice(0, k).map((d) => d.id);
    return { ids: texts.map(() => ids), scores: texts.map(() => ids.map(scoreOf)) };
  },
  scoreDocuments: (texts, ids) => texts.map((_, i) => ids[i].map(scoreOf)),
  rangeMax: 6,
  numNegatives: 2,
  quiet: true,
};
const dir = tmpDir();
const read = (file: string) =>
  readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('one line per (query, positive) in the training format, text form, with aligned scores', async () => {
  const out = path.join(dir, 'text.jsonl');
  const report = await mineHardNegativesToJsonl({ ...base, out });
  assert.deepEqual(read(out), [
    {
      query: 'first query',
      positive: 'T2 body 2',
      negatives: ['T0 body 0', 'T1 body 1'],
      scores: { positive: 10, negatives: [12, 11] },
    },
    {
      query: 'first query',
      positive: 'T5 body 5',
      negatives: ['T0 body 0', 'T1 body 1'],
      scores: { positive: 7, negatives: [12, 11] },
    },
    {
      query: 'second query',
      positive: 'T0 body 0',
      negatives: ['T1 body 1', 'T2 body 2'],
      scores: { positive: 12, negatives: [11, 10] },
    },
  ]);
  assert.equal(report.lines, 3);
  assert.equal(report.dropped, 0);
  assert.equal(report.scored, true);
  assert.equal(report.queries, 2);
  // Every line is a valid training example (the fields the trainer checks).
  read(out).forEach((l, i) => {
    const s = l.scores as { positive: number; negatives: number[] };
    const e: TrainingExample = {
      query: l.query as string,
      positive: l.positive as string,
      negatives: l.negatives as string[],
      positiveScore: s.positive,
      negativeScores: s.negatives,
    };
    checkExampleFields(e, i);
  });
});

test('id form, incomplete queries left out unless kept, and the margin applied per query', async () => {
  const out = path.join(dir, 'ids.jsonl');
  // relativeMargin 0.2: q2 (positive 12) keeps scores <= 9.6, d3 and d4; q1 (hardest positive 7) keeps
  // scores <= 5.6, only d7 (5) in its window d0 d1 d3 d4 d6 d7: fewer than 2, so its lines are left out.
  const report = await mineHardNegativesToJsonl({ ...base, out, form: 'ids', relativeMargin: 0.2 });
  assert.deepEqual(read(out), [
    {
      query_id: 'q2',
      positive_id: 'd0',
      negative_ids: ['d3', 'd4'],
      scores: { positive: 12, negatives: [9, 8] },
    },
  ]);
  assert.equal(report.dropped, 2);
  assert.equal(report.short, 1);
  const kept = await mineHardNegativesToJsonl({
    ...base,
    out,
    form: 'ids',
    relativeMargin: 0.2,
    keepIncomplete: true,
  });
  assert.equal(kept.lines, 3);
  assert.deepEqual(read(out)[0], {
    query_id: 'q1',
    positive_id: 'd2',
    negative_ids: ['d7'],
    scores: { positive: 10, negatives: [5] },
  });
});

test('without scores the lines carry none; a failed run leaves the previous file', async () => {
  const out = path.join(dir, 'plain.jsonl');
  const ids = (texts: string[], k: number) => texts.map(() => corpus.slice(0, k).map((d) => d.id));
  const report = await mineHardNegativesToJsonl({ ...base, search: ids, scoreDocuments: undefined, out });
  assert.equal(report.scored, false);
  assert.deepEqual(Object.keys(read(out)[0]), ['query', 'positive', 'negatives']);
  writeFileSync(out, 'previous\n');
  await assert.rejects(
    mineHardNegativesToJsonl({ ...base, out, search: () => [] }),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'search',
  );
  assert.equal(readFileSync(out, 'utf8'), 'previous\n');
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('.tmp-')),
    [],
    'no temporary file left behind',
  );
  await assert.rejects(
    mineHardNegativesToJsonl({ ...base, out, form: 'json' as 'ids' }),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'form',
  );
  assert.ok(existsSync(out));
});

test('minedLines writes a line per positive and omits scores when one is missing', () => {
  const q = {
    queryId: 'q',
    query: 'Q',
    positives: [
      { id: 'p1', text: 'P1', score: 3 },
      { id: 'p2', text: 'P2' },
    ],
    negatives: [{ id: 'n', text: 'N', score: 1 }],
  };
  assert.deepEqual(minedLines(q), [
    '{"query":"Q","positive":"P1","negatives":["N"]}',
    '{"query":"Q","positive":"P2","negatives":["N"]}',
  ]);
  assert.deepEqual(minedLines({ ...q, positives: [q.positives[0]] }, 'ids'), [
    '{"query_id":"q","positive_id":"p1","negative_ids":["n"],"scores":{"positive":3,"negatives":[1]}}',
  ]);
});
