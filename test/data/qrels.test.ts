import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readQrels, readQrelsWithFormat, writeQrels } from '../../src/data/qrels.js';
import { InputFormatError } from '../../src/errors.js';
import { evaluateRun } from '../../src/eval/metrics.js';
import { tmpDir } from '../helpers/tmp.js';

function file(content: string, name = 'qrels.txt'): string {
  const f = path.join(tmpDir(), name);
  writeFileSync(f, content);
  return f;
}

/** Assert `promise` rejects with an InputFormatError at `line` of `f` whose message matches `message`. */
async function rejectsAt(promise: Promise<unknown>, f: string, line: number | undefined, message: RegExp) {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof InputFormatError, String(e));
    assert.equal(e.file, f);
    assert.equal(e.line, line);
    assert.ok(e.message.startsWith(line === undefined ? `${f}: ` : `${f}:${line}: `), e.message);
    assert.match(e.message, message);
    return true;
  });
}

test('reads TREC qrels (qid iter docid grade), skipping comments and blank lines', async () => {
  const f = file('# judged by hand\nq1 0 d1 2\n\nq1 0 d2 0\nq2\t1\td1\t-1\r\n');
  const { qrels, format } = await readQrelsWithFormat(f);
  assert.equal(format, 'trec');
  assert.deepEqual(
    [...qrels].map(([q, m]) => [q, [...m]]),
    [
      [
        'q1',
        [
          ['d1', 2],
          ['d2', 0],
        ],
      ],
      ['q2', [['d1', -1]]],
    ],
  );
});

test('reads BEIR TSV qrels with a header, ids may contain spaces', async () => {
  const f = file('query-id\tcorpus-id\tscore\n1\tdoc one\t1\n1\t31715818\t2\n');
  const { qrels, format } = await readQrelsWithFormat(f);
  assert.equal(format, 'beir');
  assert.deepEqual(
    [...(qrels.get('1') ?? [])],
    [
      ['doc one', 1],
      ['31715818', 2],
    ],
  );
});

test('reads headerless BEIR TSV qrels', async () => {
  const qrels = await readQrels(file('1\td1\t1\n2\td2\t0\n'));
  assert.equal(qrels.get('2')?.get('d2'), 0);
});

test('qrels errors name file and line', async () => {
  let f = file('q1 0 d1 1\nq1 0 d2\n');
  await rejectsAt(readQrels(f), f, 2, /expected 4 fields 'qid iter docid grade', got 3/);
  f = file('q1 0 d1 1\nq1 0 d2 1.5\n');
  await rejectsAt(readQrels(f), f, 2, /non-integer grade '1.5'/);
  f = file('query-id\tcorpus-id\tscore\n1\td1\trelevant\n');
  await rejectsAt(readQrels(f), f, 2, /non-integer grade 'relevant'/);
  f = file('query-id\tcorpus-id\tscore\n1\td1\n');
  await rejectsAt(readQrels(f), f, 2, /expected 3 fields 'query-id<TAB>corpus-id<TAB>score', got 2/);
  f = file('q1 0 d1 1\nq2 0 d1 1\nq1 0 d1 0\n');
  await rejectsAt(
    readQrels(f),
    f,
    3,
    /duplicate judgement of document 'd1' for query 'q1' \(first at line 1\)/,
  );
  f = file('q1 d1\n');
  await rejectsAt(readQrels(f), f, 1, /not a qrels line: expected 'qid iter docid grade' \(TREC\)/);
  f = file('');
  await rejectsAt(readQrels(f), f, undefined, /empty file: no judgements/);
  f = file('query-id\tcorpus-id\tscore\n');
  await rejectsAt(readQrels(f), f, undefined, /empty file: no judgements/);
});

test('writeQrels writes TREC qrels that read back the same', async () => {
  const dir = tmpDir();
  const f = path.join(dir, 'out.qrels');
  const qrels = new Map([
    ['q2', new Map([['d1', 1]])],
    [
      'q1',
      new Map([
        ['d2', 0],
        ['d1', 3],
      ]),
    ],
  ]);
  await writeQrels(f, qrels);
  assert.equal(readFileSync(f, 'utf8'), 'q1 0 d1 3\nq1 0 d2 0\nq2 0 d1 1\n');
  assert.deepEqual(await readQrels(f), qrels);
  await assert.rejects(writeQrels(f, new Map([['q1', new Map([['a b', 1]])]])), /qrels: document id "a b"/);
});

test('issue 13: a headerless BEIR file whose first grade is written 1.0 is data (grade 1), not a header', async () => {
  const f = file('q1\td1\t1.0\nq1\td2\t1\n', 'qrels.tsv');
  const qrels = await readQrels(f);
  assert.deepEqual(
    [...(qrels.get('q1') ?? [])],
    [
      ['d1', 1],
      ['d2', 1],
    ],
  );
  // d1 first, a non-relevant d3, then d2: AP = (1/1 + 2/3) / 2. Skipping line 1 as a header gave 1/3.
  const run = new Map([
    [
      'q1',
      new Map([
        ['d1', 3],
        ['d3', 2],
        ['d2', 1],
      ]),
    ],
  ]);
  assert.equal(evaluateRun(qrels, run, ['map']).mean.map, (1 + 2 / 3) / 2);
  // A grade that is not an integer value is refused (trec_eval's atol would read 0.5 as 0, silently).
  const g = file('q1\td1\t0.5\n', 'half.tsv');
  await rejectsAt(readQrels(g), g, 1, /non-integer grade '0.5'/);
});

test('issue 13: only the exact BEIR header is skipped; a headerless BEIR file keeps its first line', async () => {
  const q = await readQrels(file('q1\td1\t1\nq1\td2\t0\n', 'a.tsv'));
  assert.deepEqual(
    [...(q.get('q1') ?? [])],
    [
      ['d1', 1],
      ['d2', 0],
    ],
  );
  const h = await readQrels(file('query-id\tcorpus-id\tscore\nq1\td1\t1\n', 'b.tsv'));
  assert.deepEqual([...h.keys()], ['q1']);
  const g = file('qid\tdocid\tgrade\nq1\td1\t1\n', 'c.tsv');
  await rejectsAt(readQrels(g), g, 1, /non-integer grade 'grade'/);
});

test('issue 13: grades use the strict decimal grammar (no 0x, no unsafe integers)', async () => {
  const f = file('q1 0 d1 0x1\n');
  await rejectsAt(readQrels(f), f, 1, /non-integer grade '0x1'/);
  const g = file('q1 0 d1 99999999999999999999\n');
  await rejectsAt(readQrels(g), g, 1, /non-integer grade/);
});

test('issue 13: invalid UTF-8 in a qrels id is an error naming file and line, not U+FFFD', async () => {
  const f = path.join(tmpDir(), 'bad.tsv');
  writeFileSync(
    f,
    Buffer.concat([Buffer.from('q1\td4\t1\nq1\td4'), Buffer.from([0xfe]), Buffer.from('\t1\n')]),
  );
  await rejectsAt(readQrels(f), f, 2, /invalid UTF-8/);
});
