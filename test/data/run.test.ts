import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readRun, writeRun } from '../../src/data/run.js';
import { InputFormatError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';

function file(content: string): string {
  const f = path.join(tmpDir(), 'x.run');
  writeFileSync(f, content);
  return f;
}

async function rejectsAt(promise: Promise<unknown>, f: string, line: number | undefined, message: RegExp) {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof InputFormatError, String(e));
    assert.equal(e.line, line);
    assert.ok(e.message.startsWith(line === undefined ? `${f}: ` : `${f}:${line}: `), e.message);
    assert.match(e.message, message);
    return true;
  });
}

test('readRun reads scores and ignores the rank column', async () => {
  const run = await readRun(file('q1 Q0 d1 7 0.5 t\n# note\nq1 Q0 d2 1 -1e-3 t\nq2\tQ0\td1\t1\t3\tt\n'));
  assert.deepEqual(
    [...run].map(([q, m]) => [q, [...m]]),
    [
      [
        'q1',
        [
          ['d1', 0.5],
          ['d2', -0.001],
        ],
      ],
      ['q2', [['d1', 3]]],
    ],
  );
});

test('readRun errors name file and line', async () => {
  let f = file('q1 Q0 d1 1 0.5 t\nq1 Q0 d2 2 0.4\n');
  await rejectsAt(readRun(f), f, 2, /expected 6 fields 'qid Q0 docid rank score tag', got 5/);
  f = file('q1 Q0 d1 1 high t\n');
  await rejectsAt(readRun(f), f, 1, /score 'high' is not a finite decimal number/);
  f = file('q1 Q0 d1 1 NaN t\n');
  await rejectsAt(readRun(f), f, 1, /score 'NaN' is not a finite decimal number/);
  f = file('q1 Q0 d1 1 0.5 t\nq2 Q0 d1 1 0.5 t\nq1 Q0 d1 2 0.3 t\n');
  await rejectsAt(readRun(f), f, 3, /duplicate document 'd1' for query 'q1' \(first at line 1\)/);
  f = file('\n\n');
  await rejectsAt(readRun(f), f, undefined, /empty file/);
});

test('writeRun writes trec_eval order with ranks 1..n, atomically, and reads back identically', async () => {
  const dir = tmpDir();
  const f = path.join(dir, 'out.run');
  const run = new Map([
    ['q2', new Map([['d1', 0.1]])],
    [
      'q1',
      new Map([
        ['d9', 1],
        ['d10', 1],
        ['d3', 2],
        ['d4', 0.30000000000000004],
      ]),
    ],
  ]);
  await writeRun(f, run, { tag: 'exp1' });
  assert.equal(
    readFileSync(f, 'utf8'),
    'q1 Q0 d3 1 2 exp1\nq1 Q0 d9 2 1 exp1\nq1 Q0 d10 3 1 exp1\nq1 Q0 d4 4 0.30000000000000004 exp1\n' +
      'q2 Q0 d1 1 0.1 dense-retrieval'.replace('dense-retrieval', 'exp1') +
      '\n',
  );
  assert.deepEqual(await readRun(f), new Map([...run].sort()));
  assert.deepEqual(readdirSync(dir), ['out.run'], 'no temporary file is left behind');
  await writeRun(f, run, { depth: 2 });
  assert.equal(readFileSync(f, 'utf8').split('\n').filter(Boolean).length, 3);
  assert.match(readFileSync(f, 'utf8'), / dense-retrieval\n/);
});

test('writeRun rejects bad arguments by name', async () => {
  const f = path.join(tmpDir(), 'out.run');
  const run = new Map([['q1', new Map([['d1', 1]])]]);
  await assert.rejects(writeRun(f, run, { depth: 0 }), /depth: must be a positive integer, got 0/);
  await assert.rejects(
    writeRun(f, run, { tag: 'my run' }),
    /tag: run tag "my run" is empty or contains whitespace/,
  );
  await assert.rejects(
    writeRun(f, new Map([['q1', new Map([['d1', Infinity]])]])),
    /run: score of document 'd1'/,
  );
});

test('issue 13: run scores use the strict decimal grammar (Number() reads 0b11 as 3, trec_eval as 0)', async () => {
  for (const score of ['0b11', '0o17', '0x1F', 'Infinity', '1e999']) {
    const f = file(`q1 Q0 d1 1 1.5 t\nq1 Q0 d2 2 ${score} t\n`);
    await rejectsAt(readRun(f), f, 2, new RegExp(`score '${score}' is not a finite decimal number`));
  }
  const run = await readRun(file('q1 Q0 d1 1 -1.5e2 t\nq1 Q0 d2 2 .25 t\n'));
  assert.deepEqual(
    [...(run.get('q1') ?? [])],
    [
      ['d1', -150],
      ['d2', 0.25],
    ],
  );
});

test('issue 13: invalid UTF-8 in a run id is an error naming file and line', async () => {
  const f = path.join(tmpDir(), 'bad.run');
  writeFileSync(f, Buffer.concat([Buffer.from('q1 Q0 d4'), Buffer.from([0xff]), Buffer.from(' 1 1 t\n')]));
  await rejectsAt(readRun(f), f, 1, /invalid UTF-8/);
});
