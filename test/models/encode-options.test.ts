import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';
import { packSignBits, quantizeEmbeddings } from '../../src/util/quantize.js';
import { truncateEmbeddings } from '../../src/util/truncate.js';

before(async () => {
  await initBackend();
});

test('encode truncateDim keeps the first dims, re-normalised when the encoder normalises', async () => {
  const texts = ['a first text', 'another one', 'third'];
  for (const normalize of [true, false]) {
    const enc = await SentenceEncoder.fromScratch(tinyConfig(tmpDir()), undefined, { seed: 3, normalize });
    try {
      const full = await enc.encode(texts, { quiet: true });
      const cut = await enc.encode(texts, { quiet: true, truncateDim: 5 });
      assert.deepEqual([cut.rows, cut.cols], [3, 5]);
      for (let r = 0; r < 3; r++) {
        const head = Array.from(full.data.subarray(r * full.cols, r * full.cols + 5));
        const norm = normalize ? Math.hypot(...head) : 1;
        head.forEach((x, j) =>
          assert.ok(Math.abs(cut.data[r * 5 + j] - x / norm) < 1e-6, `row ${r} dim ${j}`),
        );
      }
      await assert.rejects(
        enc.encode(texts, { truncateDim: full.cols + 1 }),
        (e: unknown) => e instanceof ArgumentError && e.argument === 'truncateDim',
      );
    } finally {
      enc.dispose();
    }
  }
});

test('encode precision returns the quantizeEmbeddings codes of the float embeddings (ST encode precision)', async () => {
  const texts = ['a first text', 'another one', 'third', 'and a fourth'];
  const enc = await SentenceEncoder.fromScratch(tinyConfig(tmpDir()), undefined, { seed: 4 });
  try {
    const full = await enc.encode(texts, { quiet: true });
    const calibration = full;
    const int8 = await enc.encode(texts, { quiet: true, precision: 'int8', quantize: { calibration } });
    assert.deepEqual(
      Array.from(int8.data),
      Array.from(quantizeEmbeddings(full, 'int8', { calibration }).data),
    );
    const bits = await enc.encode(texts, { quiet: true, precision: 'ubinary', truncateDim: 8 });
    assert.equal(bits.cols, 1);
    assert.deepEqual(Array.from(bits.data), Array.from(packSignBits(truncateEmbeddings(full, 8, false))));
  } finally {
    enc.dispose();
  }
});
