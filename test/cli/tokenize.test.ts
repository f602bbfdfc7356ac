import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { e2eModelDir, e2eReference } from '../models/bert-fixture.js';

test('tokenize prints one JSON line per text with the reference ids', async () => {
  const ref = e2eReference();
  const model = e2eModelDir();
  const input = path.join(tmpDir(), 'texts.txt');
  writeFileSync(input, ref.texts.join('\n') + '\n');
  const r = await runCli(['tokenize', '--model', model, '--input', input]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(lines.length, ref.texts.length);
  lines.forEach((l, i) => {
    assert.deepEqual(l.input_ids, ref.input_ids[i], `text ${i}`);
    assert.deepEqual(
      l.attention_mask,
      ref.input_ids[i].map(() => 1),
    );
  });
});

test('tokenize --max-length truncates and keeps [SEP]; jsonl joins title and text', async () => {
  const dir = tmpDir();
  const input = path.join(dir, 'docs.jsonl');
  writeFileSync(
    input,
    [JSON.stringify({ _id: 'd1', title: 'Hello,', text: 'world!' }), JSON.stringify({ text: 'hello' })].join(
      '\n',
    ),
  );
  const r = await runCli(['tokenize', '--model', e2eModelDir(), '--input', input, '--max-length', '4']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(lines, [
    { input_ids: [101, 7592, 1010, 102], attention_mask: [1, 1, 1, 1] },
    { input_ids: [101, 7592, 102], attention_mask: [1, 1, 1] },
  ]);
});

test('tokenize: empty input and wrong extension are one-line errors', async () => {
  const dir = tmpDir();
  const empty = path.join(dir, 'empty.txt');
  writeFileSync(empty, '\n\n');
  const r = await runCli(['tokenize', '--model', e2eModelDir(), '--input', empty]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), `dense-retrieval: error: ${empty}: empty input file: no texts to process`);
  const csv = path.join(dir, 'texts.csv');
  writeFileSync(csv, 'a,b\n');
  const r2 = await runCli(['tokenize', '--model', e2eModelDir(), '--input', csv]);
  assert.equal(r2.code, 2);
  assert.match(
    r2.stderr,
    /--input: expected a \.txt \(one text per line\) or \.jsonl file, got .*texts\.csv/,
  );
});
