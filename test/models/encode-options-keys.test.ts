import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';

let encoder: SentenceEncoder;
const TEXTS = ['dense retrieval', 'a second, longer text about vectors', 'x'];

before(async () => {
  await initBackend();
  encoder = await SentenceEncoder.fromScratch(tinyConfig(tmpDir()), undefined, { seed: 3 });
});

const norms = (m: { data: Float32Array; rows: number; cols: number }): number[] =>
  Array.from({ length: m.rows }, (_, i) => Math.hypot(...m.data.subarray(i * m.cols, (i + 1) * m.cols)));

test('encode refuses option keys it does not know (plain JavaScript would otherwise be ignored)', async () => {
  await assert.rejects(
    encoder.encode(TEXTS, { normalise: true, show_progress_bar: false } as never),
    (e: unknown) => {
      assert.ok(e instanceof ArgumentError);
      assert.match(
        e.message,
        /unknown options 'normalise' \(did you mean 'normalize'\?\), 'show_progress_bar' \(did you mean 'showProgressBar'\?\) of encode/,
      );
      return true;
    },
  );
});

test('normalize (and its sentence-transformers name normalizeEmbeddings) gives unit vectors in the same directions', async () => {
  assert.equal(encoder.normalize, false);
  const raw = await encoder.encode(TEXTS, { quiet: true });
  assert.ok(
    norms(raw).some((n) => Math.abs(n - 1) > 0.01),
    'the scratch model does not normalise by itself',
  );
  for (const options of [{ normalize: true }, { normalizeEmbeddings: true, showProgressBar: false }]) {
    const unit = await encoder.encode(TEXTS, { quiet: true, ...options });
    for (const n of norms(unit)) assert.ok(Math.abs(n - 1) < 1e-5, String(n));
    const rawNorms = norms(raw);
    unit.data.forEach((v, i) => {
      const expected = raw.data[i] / rawNorms[Math.floor(i / raw.cols)];
      assert.ok(Math.abs(v - expected) < 1e-6);
    });
  }
  await assert.rejects(
    encoder.encode(TEXTS, { normalize: true, normalizeEmbeddings: false }),
    /normalizeEmbeddings: contradicts normalize \(true vs false\)/,
  );
});
