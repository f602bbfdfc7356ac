import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readNpy } from '../../src/data/npy.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { initBackend } from '../../src/backend/index.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';

const dir = tmpDir('dr-encode-truncate-');

test("encode uses a saved model's truncate_dim by default, --truncate-dim overrides it, on 1 and 2 workers", async () => {
  await initBackend();
  const base = await SentenceEncoder.fromScratch(tinyConfig(dir), undefined, { seed: 5 });
  const { model, tokenizer, pooling, maxSeqLength } = base;
  const saved = path.join(dir, 'model');
  await new SentenceEncoder({
    model,
    tokenizer,
    pooling,
    normalize: true,
    maxSeqLength,
    truncateDim: 8,
  }).save(saved);
  base.dispose();
  const input = path.join(dir, 'texts.txt');
  writeFileSync(input, ['nested dolls', 'smaller vectors', 'matryoshka', 'a fourth text'].join('\n') + '\n');
  const encode = async (out: string, ...flags: string[]) => {
    const r = await runCli([
      'encode',
      '--model',
      saved,
      '--input',
      input,
      '--output',
      out,
      '--quiet',
      ...flags,
    ]);
    assert.equal(r.code, 0, r.stderr);
    return readNpy(out);
  };
  const byDefault = await encode(path.join(dir, 'a.npy'));
  const wider = await encode(path.join(dir, 'b.npy'), '--truncate-dim', '12');
  const workers = await encode(path.join(dir, 'c.npy'), '--workers', '2');
  assert.deepEqual([byDefault.cols, wider.cols, workers.cols], [8, 12, 8]);
  assert.deepEqual(Array.from(workers.data), Array.from(byDefault.data));
  // Sharded encoding stores full-width vectors (it leaves truncation to `index build --truncate-dim`), so its
  // chunks match the manifest's dimension whatever the model's truncate_dim.
  const shards = path.join(dir, 'shards');
  const s = await runCli([
    'encode',
    '--model',
    saved,
    '--input',
    input,
    '--shard',
    '0/1',
    '--out-dir',
    shards,
    '--quiet',
  ]);
  assert.equal(s.code, 0, s.stderr);
  const m = await runCli(['encode', '--merge', shards, '--output', path.join(dir, 'm.npy'), '--quiet']);
  assert.equal(m.code, 0, m.stderr);
  assert.equal((await readNpy(path.join(dir, 'm.npy'))).cols, 16);
  // Both are prefixes of the same vectors, re-normalised: the first 8 of the 12 rescale to the 8.
  for (let r = 0; r < 4; r++) {
    const prefix = Array.from(wider.data.subarray(r * 12, r * 12 + 8));
    const norm = Math.hypot(...prefix);
    prefix.forEach((v, j) => assert.ok(Math.abs(v / norm - byDefault.data[r * 8 + j]) < 1e-5));
  }
});
