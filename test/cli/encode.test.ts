import assert from 'node:assert/strict';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readNpy } from '../../src/data/npy.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { e2eModelDir, e2eReference, matrixRows, maxAbsDiff } from '../models/bert-fixture.js';

test('encode writes the reference embeddings as an [n, dim] float32 .npy, with the model defaults', async () => {
  const ref = e2eReference();
  const dir = tmpDir();
  const input = path.join(dir, 'texts.txt');
  writeFileSync(input, ref.texts.join('\n') + '\n');
  const output = path.join(dir, 'out', 'emb.npy');
  const r = await runCli([
    'encode',
    '--model',
    e2eModelDir(),
    '--input',
    input,
    '--output',
    output,
    '--batch-size',
    '3',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /encoded 8 texts -> .*emb\.npy \[8, 8\] \(mean pooling, normalized, max length 16\)/,
  );
  const m = await readNpy(output);
  assert.deepEqual([m.rows, m.cols], [8, 8]);
  assert.ok(maxAbsDiff(matrixRows(m), ref.pooled.mean_normalized) <= 1e-4);
  // A .txt input has no ids: the vectors get a meta sidecar but no ids file.
  assert.deepEqual(
    readdirSync(path.dirname(output)).sort(),
    ['emb.meta.json', 'emb.npy'],
    'atomic writes leave no temp file',
  );
});

test('encode --pooling cls --no-normalize on .jsonl (title + text) matches the reference', async () => {
  const ref = e2eReference();
  const dir = tmpDir();
  const input = path.join(dir, 'docs.jsonl');
  // "Hello, world!" split into title and text must embed like the joined text.
  const records = ref.texts.map((t, i) =>
    i === 0 ? { _id: 'd0', title: 'Hello,', text: 'world!' } : { _id: `d${i}`, title: '', text: t },
  );
  writeFileSync(input, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const output = path.join(dir, 'emb.npy');
  const r = await runCli([
    'encode',
    '--model',
    e2eModelDir(),
    '--input',
    input,
    '--output',
    output,
    '--pooling',
    'cls',
    '--no-normalize',
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /trained with mean pooling; using cls as requested/);
  const m = await readNpy(output);
  assert.ok(maxAbsDiff(matrixRows(m), ref.pooled.cls) <= 1e-4);
});

test('encode: empty input file, missing config.json and a bad --pooling are clear errors', async () => {
  const dir = tmpDir();
  const empty = path.join(dir, 'empty.jsonl');
  writeFileSync(empty, '');
  const output = path.join(dir, 'x.npy');
  const r = await runCli(['encode', '--model', e2eModelDir(), '--input', empty, '--output', output]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`error: ${empty}: empty input file: no texts to process`));

  const texts = path.join(dir, 't.txt');
  writeFileSync(texts, 'hello\n');
  const model = e2eModelDir();
  rmSync(path.join(model, 'config.json'));
  const r2 = await runCli(['encode', '--model', model, '--input', texts, '--output', output]);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, new RegExp(`error: ${path.join(model, 'config.json')}: missing config\\.json`));

  const r3 = await runCli([
    'encode',
    '--model',
    model,
    '--input',
    texts,
    '--output',
    output,
    '--pooling',
    'sum',
  ]);
  assert.equal(r3.code, 2);
  assert.match(
    r3.stderr,
    /--pooling must be one of cls\|mean\|max\|mean_sqrt_len_tokens\|weightedmean\|lasttoken, got 'sum'/,
  );
  assert.deepEqual(readdirSync(dir).sort(), ['empty.jsonl', 't.txt'], 'no output written on failure');
});

test('encode --model scratch:<config.json> uses a random model with the bundled tokenizer', async () => {
  const dir = tmpDir();
  const texts = path.join(dir, 't.txt');
  writeFileSync(texts, 'first text\n\nthird text\n');
  const output = path.join(dir, 'emb.npy');
  const config = path.join(e2eModelDir(), 'config.json');
  const r = await runCli([
    'encode',
    '--model',
    `scratch:${config}`,
    '--input',
    texts,
    '--output',
    output,
    '--max-length',
    '8',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const m = await readNpy(output);
  assert.deepEqual([m.rows, m.cols], [3, 8], 'the blank line is kept as a row');
  assert.ok(m.data.every(Number.isFinite));
});
