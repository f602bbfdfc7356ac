import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readNpy } from '../../src/data/npy.js';
import { readNpyCodes } from '../../src/data/npy-codes.js';
import { packSignBits, quantizeEmbeddings } from '../../src/util/quantize.js';
import { truncateEmbeddings } from '../../src/util/truncate.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { e2eModelDir } from '../models/bert-fixture.js';

test('encode --truncate-dim and --precision write the truncated floats and ST codes of the same embeddings', async () => {
  const dir = tmpDir();
  const texts = path.join(dir, 't.txt');
  writeFileSync(texts, 'first text\nsecond text here\nthird\nfourth one\n');
  const encode = async (out: string, ...extra: string[]): Promise<void> => {
    const r = await runCli([
      'encode',
      '--model',
      e2eModelDir(),
      '--input',
      texts,
      '--output',
      out,
      '--quiet',
      ...extra,
    ]);
    assert.equal(r.code, 0, r.stderr);
  };
  const full = path.join(dir, 'full.npy');
  const cut = path.join(dir, 'cut.npy');
  const bits = path.join(dir, 'bits.npy');
  const int8 = path.join(dir, 'int8.npy');
  await encode(full);
  await encode(cut, '--truncate-dim', '4', '--no-normalize');
  await encode(bits, '--precision', 'ubinary');
  await encode(int8, '--precision', 'int8');
  const f = await readNpy(full);
  const c = await readNpy(cut);
  assert.deepEqual([c.rows, c.cols], [4, 4]);
  const want = truncateEmbeddings(f, 4, false);
  // --no-normalize on a normalizing model: the full run normalised, so compare directions only.
  for (let r = 0; r < 4; r++) {
    const a = Array.from(c.data.subarray(r * 4, r * 4 + 4));
    const b = Array.from(want.data.subarray(r * 4, r * 4 + 4));
    const cos = a.reduce((s, x, j) => s + x * b[j], 0) / (Math.hypot(...a) * Math.hypot(...b));
    assert.ok(cos > 0.9999, `row ${r}: ${cos}`);
  }
  const b = await readNpyCodes(bits);
  assert.equal(b.dtype, 'uint8');
  assert.deepEqual(Array.from(b.data), Array.from(packSignBits(f)));
  // The meta records the precision and the code width: dim stays the embedding's (8 dims per byte).
  const meta = JSON.parse(readFileSync(bits.replace(/\.npy$/, '.meta.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.equal(meta.precision, 'ubinary');
  assert.equal(meta.dim, f.cols);
  assert.equal(meta.codeWidth, b.cols);
  assert.equal(b.cols, Math.ceil(f.cols / 8));
  assert.equal(JSON.parse(readFileSync(full.replace(/\.npy$/, '.meta.json'), 'utf8')).precision, 'float32');
  // index build on codes: a clear message to encode float32 (the index quantizes itself).
  const r = await runCli([
    'index',
    'build',
    '--vectors',
    bits,
    '--type',
    'binary',
    '--out',
    path.join(dir, 'b.idx'),
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /holds quantized uint8 codes \('\|u1'\).*indexes take float32 vectors.*encode without --precision; the int8 and binary indexes quantize them themselves/,
  );
  const i = await readNpyCodes(int8);
  assert.equal(i.dtype, 'int8');
  assert.deepEqual(Array.from(i.data), Array.from(quantizeEmbeddings(f, 'int8').data));
});
