import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { InputFormatError } from '../../src/errors.js';
import { readTrainingFile, streamTrainingExamples } from '../../src/train/training-data.js';
import type { CorpusDoc } from '../../src/types.js';
import { tmpDir } from '../helpers/tmp.js';

const corpus: CorpusDoc[] = [
  { id: 'd1', title: 'Cats', text: 'Cats purr.' },
  { id: 'd2', title: '', text: 'Dogs bark.' },
  { id: 'd3', title: 'Owls', text: 'Owls hoot.' },
  { id: '1234567890123456789', title: '', text: 'A numeric id.' },
];
const queries = new Map([
  ['q1', 'what do cats do'],
  ['77', 'numeric query'],
]);

function file(lines: string[]): string {
  const f = path.join(tmpDir(), 'train.jsonl');
  writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

test('the text form reads query, positive, negatives and teacher scores', async () => {
  const f = file([
    JSON.stringify({
      query: 'q a',
      positive: 'p a',
      negatives: ['n1', 'n2', 'n3'],
      scores: { positive: 9.5, negatives: [1, -2.25, 3] },
    }),
    '',
    JSON.stringify({ query: 'q b', positive: 'p b' }),
  ]);
  assert.deepEqual(await readTrainingFile(f), [
    {
      query: 'q a',
      positive: 'p a',
      negatives: ['n1', 'n2', 'n3'],
      positiveScore: 9.5,
      negativeScores: [1, -2.25, 3],
    },
    { query: 'q b', positive: 'p b' },
  ]);
});

test('the id form resolves against queries and corpus (passageText), numeric ids kept as written', async () => {
  const f = file([
    '{"query_id": "q1", "positive_id": "d1", "negative_ids": ["d2", 1234567890123456789]}',
    '{"query_id": 77, "positive_id": "d3"}',
    // Both forms: the text is used, the id is the identity (not looked up).
    '{"query": "own text", "query_id": "unknown-q", "positive": "own passage", "positive_id": "zz"}',
  ]);
  const got = [];
  for await (const e of streamTrainingExamples(f, { queries, corpus })) got.push(e);
  assert.deepEqual(got, [
    {
      query: 'what do cats do',
      queryId: 'q1',
      positive: 'Cats Cats purr.',
      positiveId: 'd1',
      negatives: ['Dogs bark.', 'A numeric id.'],
      negativeIds: ['d2', '1234567890123456789'],
    },
    { query: 'numeric query', queryId: '77', positive: 'Owls Owls hoot.', positiveId: 'd3' },
    { query: 'own text', queryId: 'unknown-q', positive: 'own passage', positiveId: 'zz' },
  ]);
  // The same document named on two lines is one string (memory bounded by the corpus).
  const two = file(['{"query_id": "q1", "positive_id": "d1"}', '{"query_id": "77", "positive_id": "d1"}']);
  const [a, b] = await readTrainingFile(two, { queries, corpus: new Map(corpus.map((d) => [d.id, d])) });
  assert.equal(a.positive, b.positive);
});

test('every bad line is an InputFormatError naming file:line', async () => {
  const ok = '{"query": "q", "positive": "p"}';
  const cases: [string, RegExp][] = [
    ['{"query": "q", "positive": ', /invalid JSON/],
    ['["q", "p"]', /expected a JSON object, got an array/],
    [
      '{"query": "q", "positive": "p", "neg": ["n"]}',
      /unknown field\(s\) 'neg'; the fields are query, positive/,
    ],
    ['{"positive": "p"}', /missing the query: give 'query' \(text\) or 'query_id'/],
    ['{"query": "q"}', /missing the positive/],
    ['{"query": "  ", "positive": "p"}', /field 'query' is empty/],
    ['{"query": 5, "positive": "p"}', /field 'query' must be a string, got number/],
    ['{"query": "q", "positive": "p", "negatives": "n"}', /'negatives' must be an array of strings/],
    [
      '{"query": "q", "positive": "p", "negatives": ["n", 3]}',
      /element 1 of field 'negatives' must be a string/,
    ],
    ['{"query_id": "q9", "positive_id": "d1"}', /query_id 'q9' is not in the queries/],
    ['{"query_id": "q1", "positive_id": "d9"}', /positive_id 'd9' is not in the corpus/],
    [
      '{"query_id": "q1", "positive_id": "d1", "negative_ids": ["d2", "d8"]}',
      /negative_ids 'd8' is not in the corpus/,
    ],
    [
      '{"query_id": "q1", "positive_id": "d1", "negative_ids": "d2"}',
      /field 'negative_ids' must be an array/,
    ],
    [
      '{"query": "q", "positive": "p", "negatives": ["n"], "negative_ids": ["a", "b"]}',
      /'negatives' has 1 entries but 'negative_ids' has 2/,
    ],
    [
      '{"query": "q", "positive": "p", "negatives": ["n", "p"]}',
      /negative 1 has the same text as the positive/,
    ],
    [
      '{"query": "q", "positive": "p", "negatives": ["n", "m", "n"]}',
      /negative 2 has the same text as negative 0/,
    ],
    [
      '{"query_id": "q1", "positive_id": "d1", "negative_ids": ["d2", "d1"]}',
      /negative 1 has the same text as the positive/,
    ],
    [
      '{"query": "q", "positive": "p", "negatives": ["n"], "scores": {"positive": 1}}',
      /'scores.negatives' must be an array/,
    ],
    [
      '{"query": "q", "positive": "p", "negatives": ["n"], "scores": {"negatives": [1]}}',
      /'scores.positive' must be a number, got nothing/,
    ],
    [
      '{"query": "q", "positive": "p", "negatives": ["n", "m"], "scores": {"positive": 1, "negatives": [1]}}',
      /'scores.negatives' has 1 scores but the line has 2 negatives/,
    ],
    [
      '{"query": "q", "positive": "p", "negatives": ["n"], "scores": {"positive": 1e999, "negatives": [1]}}',
      /'scores.positive' is Infinity; scores must be finite/,
    ],
    [
      '{"query": "q", "positive": "p", "negatives": ["n"], "scores": {"positive": 1, "negatives": ["2"]}}',
      /'scores.negatives\[0\]' must be a number, got string/,
    ],
    [
      '{"query": "q", "positive": "p", "scores": {"positive": 1, "negatives": [], "margin": 2}}',
      /unknown field\(s\) 'scores.margin'/,
    ],
    ['{"query": "q", "positive": "p", "scores": [1]}', /field 'scores' must be an object/],
  ];
  for (const [bad, message] of cases) {
    const f = file([ok, bad]);
    await assert.rejects(readTrainingFile(f, { queries, corpus }), (e: unknown) => {
      assert.ok(e instanceof InputFormatError, `${bad}: ${String(e)}`);
      assert.equal(e.file, f);
      assert.equal(e.line, 2, bad);
      assert.ok(e.message.startsWith(`${f}:2: `), e.message);
      assert.match(e.message, message);
      return true;
    });
  }
});

test('the id form without queries or corpus says what to pass; an empty file is refused', async () => {
  await assert.rejects(
    readTrainingFile(file(['{"query": "q", "positive_id": "d1"}'])),
    /:1: field 'positive_id' names a document, but no corpus was given to resolve it \(CLI: --data BEIR_DIR\)/,
  );
  await assert.rejects(
    readTrainingFile(file(['{"query_id": "q1", "positive": "p"}']), { corpus }),
    /:1: field 'query_id' names a query, but no queries were given/,
  );
  await assert.rejects(readTrainingFile(file(['', ''])), /empty file: no training examples/);
  await assert.rejects(
    readTrainingFile(file([]), { bogus: 1 } as never),
    /unknown option 'bogus' of streamTrainingExamples/,
  );
});

test('invalid UTF-8 is refused with its line (the strict line reader)', async () => {
  const f = path.join(tmpDir(), 'bad.jsonl');
  writeFileSync(
    f,
    Buffer.concat([
      Buffer.from('{"query": "q", "positive": "p"}\n{"query": "q'),
      Buffer.from([0xff]),
      Buffer.from('", "positive": "p"}\n'),
    ]),
  );
  await assert.rejects(readTrainingFile(f), /:2: invalid UTF-8/);
});
