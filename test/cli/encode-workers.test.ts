import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { modelCacheDir } from '../../src/checkpoint/cache.js';
import { readNpy } from '../../src/data/npy.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { e2eModelDir } from '../models/bert-fixture.js';

// Made at load time: tmpDir's cleanup registered inside a test would run when that test ends.
const model = e2eModelDir();
const dir = tmpDir('dr-encode-workers-');
const input = path.join(dir, 'texts.txt');
// 23 texts from 2 to ~60 tokens in scrambled order, so that length sorting reorders them, the 8 batches of
// 3 are unevenly padded, and a blank line is an empty text.
const texts = Array.from({ length: 23 }, (_, i) =>
  i === 5 ? '' : `${'dense retrieval vectors '.repeat(1 + ((i * 7) % 19))}number ${i}`,
);
writeFileSync(input, texts.join('\n') + '\n');

function encode(out: string, ...flags: string[]) {
  return runCli([
    'encode',
    '--model',
    model,
    '--input',
    input,
    '--output',
    out,
    '--batch-size',
    '3',
    ...flags,
  ]);
}

test('encode --workers 2 writes the --workers 1 file bit for bit, from a directory and with overrides', async () => {
  const one = path.join(dir, 'one', 'emb.npy');
  const two = path.join(dir, 'two', 'emb.npy');
  const [r1, r2] = [await encode(one, '--workers', '1'), await encode(two, '--workers', '2', '--quiet')];
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(r2.code, 0, r2.stderr);
  assert.ok(readFileSync(two).equals(readFileSync(one)), '--workers 2 output differs from --workers 1');
  const m = await readNpy(two);
  assert.deepEqual([m.rows, m.cols], [23, 8]);
  assert.match(
    r1.stderr,
    /encoded 23 texts -> .*emb\.npy \[23, 8\] \(mean pooling, normalized, max length 16\)\n/,
  );
  assert.match(
    r2.stderr,
    /encoded 23 texts -> .*emb\.npy \[23, 8\] \(mean pooling, normalized, max length 16\) on 2 workers\n/,
  );
  // --quiet (and no TTY) leaves the backend line, the summary and the engine line, nothing else.
  assert.equal(r2.stderr.trim().split('\n').length, 3, r2.stderr);
  assert.deepEqual(
    readdirSync(path.dirname(two)).sort(),
    ['emb.meta.json', 'emb.npy'],
    'atomic writes leave no temp file',
  );

  // Overridden pooling, normalisation and max length exist only in memory: the workers get them anyway.
  const flags = ['--pooling', 'cls', '--no-normalize', '--max-length', '8'];
  const o1 = path.join(dir, 'o1.npy');
  const o2 = path.join(dir, 'o2.npy');
  const [s1, s2] = [await encode(o1, ...flags), await encode(o2, ...flags, '--workers', '2')];
  assert.equal(s1.code, 0, s1.stderr);
  assert.equal(s2.code, 0, s2.stderr);
  assert.match(s2.stderr, /trained with mean pooling; using cls as requested/);
  assert.match(s2.stderr, /\(cls pooling, max length 8\) on 2 workers/);
  assert.ok(readFileSync(o2).equals(readFileSync(o1)), 'overrides: --workers 2 differs from --workers 1');
  assert.ok(!readFileSync(o1).equals(readFileSync(one)), 'the overrides changed the vectors');
});

test('encode --workers auto with a hub id encodes from the cached model directory', async () => {
  const cache = tmpDir('dr-encode-hub-');
  const cached = modelCacheDir(cache, 'org/tiny-bert', 'main');
  cpSync(model, cached, { recursive: true });
  writeFileSync(path.join(cached, '.complete'), '{}\n');
  const env = { DENSE_RETRIEVAL_CACHE: cache, HF_HUB_OFFLINE: '1' };
  const viaDir = path.join(dir, 'dir.npy');
  const viaHub = path.join(dir, 'hub.npy');
  const r1 = await encode(viaDir);
  const args = [
    'encode',
    '--model',
    'org/tiny-bert',
    '--input',
    input,
    '--output',
    viaHub,
    '--batch-size',
    '3',
  ];
  const r2 = await runCli([...args, '--workers', 'auto'], { env });
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal(r2.code, 0, r2.stderr);
  const cores = os.availableParallelism();
  assert.match(r2.stderr, cores > 1 ? new RegExp(`\\) on ${cores} workers\\n`) : /max length 16\)\n/);
  assert.ok(
    readFileSync(viaHub).equals(readFileSync(viaDir)),
    'hub id with workers differs from the directory',
  );
});

test('encode --workers rejects values that are not a positive integer or auto, naming the flag', async () => {
  const out = path.join(dir, 'bad.npy');
  const results = await Promise.all(['0', 'two', '1.5', '-2', ''].map((v) => encode(out, `--workers=${v}`)));
  results.forEach((r, i) => {
    const v = ['0', 'two', '1.5', '-2', ''][i];
    assert.equal(r.code, 2, `--workers=${v}: ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(`--workers expects a positive integer or 'auto', got '${v.replace('.', '\\.')}'`),
    );
  });
  assert.equal(existsSync(out), false, 'nothing written');
});
