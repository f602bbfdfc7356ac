import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { e2eModelDir, e2eReference } from '../models/bert-fixture.js';

test('--help lists the commands', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: dense-retrieval <command>/);
});

test('an unknown command exits 2 with a one-line message', async () => {
  const r = await runCli(['frobnicate']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
});

test('--version prints the package version', async () => {
  const r = await runCli(['--version']);
  assert.equal(r.code, 0);
  assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+/);
});

test('--threads sets the wasm thread count, reports it, and gives the same embeddings as one thread', async () => {
  const ref = e2eReference();
  const dir = tmpDir();
  const input = path.join(dir, 'texts.txt');
  writeFileSync(input, ref.texts.join('\n') + '\n');
  const run = (threads: string) =>
    runCli([
      'encode',
      '--model',
      e2eModelDir(),
      '--input',
      input,
      '--output',
      path.join(dir, `t${threads}.npy`),
      '--threads',
      threads,
      '--backend',
      'wasm',
      '--quiet',
    ]);
  const [one, two] = await Promise.all([run('1'), run('2')]);
  assert.equal(one.code, 0, one.stderr);
  assert.equal(two.code, 0, two.stderr);
  assert.match(one.stderr, /backend wasm\n/);
  assert.match(two.stderr, /backend wasm \(2 threads\)/);
  assert.deepEqual(readFileSync(path.join(dir, 't2.npy')), readFileSync(path.join(dir, 't1.npy')));
});

test('a bad --threads exits 2 naming the flag, before any work', async () => {
  const r = await runCli(['encode', '--threads', '0', '--model', 'nowhere']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--threads must be an integer from 1 to 8, got '0'/);
});
