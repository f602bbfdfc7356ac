import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { InputFormatError, ArgumentError } from '../../src/errors.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import { loadRetrievalModel } from '../../src/models/load-retrieval-model.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';

before(async () => {
  await initBackend();
});

const TEXTS = ['matryoshka embeddings nest', 'a short passage about dolls'];

test('a saved truncate_dim round-trips through config_sentence_transformers.json and is encode()s default', async () => {
  const dir = tmpDir();
  const base = await SentenceEncoder.fromScratch(tinyConfig(dir), undefined, { seed: 3 });
  const { model, tokenizer, pooling, maxSeqLength } = base;
  const enc = new SentenceEncoder({
    model,
    tokenizer,
    pooling,
    normalize: true,
    maxSeqLength,
    truncateDim: 8,
  });
  const out = path.join(dir, 'model');
  await enc.save(out);
  const config = JSON.parse(readFileSync(path.join(out, 'config_sentence_transformers.json'), 'utf8'));
  assert.equal(config.truncate_dim, 8);

  const loaded = await SentenceEncoder.load(out, { quiet: true });
  assert.equal(loaded.truncateDim, 8);
  assert.equal(loaded.dim, 16);
  const full = await loaded.encode(TEXTS, { truncateDim: 16, quiet: true });
  const cut = await loaded.encode(TEXTS, { quiet: true });
  assert.equal(full.cols, 16);
  assert.equal(cut.cols, 8);
  for (let r = 0; r < 2; r++) {
    const row = Array.from(full.data.subarray(r * 16, r * 16 + 8));
    const norm = Math.hypot(...row);
    row.forEach(
      (v, j) => assert.ok(Math.abs(v / norm - cut.data[r * 8 + j]) < 1e-6),
      'the prefix, re-normalised',
    );
  }
  // A bi-encoder over it encodes at the saved width, and an explicit width still wins.
  const bi = BiEncoder.tied(loaded);
  assert.equal((await bi.encodeQueries(TEXTS, { quiet: true })).cols, 8);
  assert.equal((await bi.encodePassages(TEXTS, { quiet: true, truncateDim: 12 })).cols, 12);
  loaded.dispose();
  base.dispose();

  // Hand-edited files: the save's manifest would refuse them as a torn save.
  rmSync(path.join(out, 'dense_retrieval_manifest.json'));
  writeFileSync(
    path.join(out, 'config_sentence_transformers.json'),
    JSON.stringify({ truncate_dim: 'small' }),
  );
  await assert.rejects(
    SentenceEncoder.load(out, { quiet: true }),
    (e: unknown) => e instanceof InputFormatError && /"truncate_dim" must be an integer >= 1/.test(e.message),
  );
  writeFileSync(path.join(out, 'config_sentence_transformers.json'), JSON.stringify({ truncate_dim: null }));
  const plain = await SentenceEncoder.load(out, { quiet: true });
  assert.equal(plain.truncateDim, undefined);
  assert.equal((await plain.encode(TEXTS, { quiet: true })).cols, 16);
  plain.dispose();
});

test('truncateDim wider than the model is refused when the encoder is built', async () => {
  const dir = tmpDir();
  const base = await SentenceEncoder.fromScratch(tinyConfig(dir), undefined, { seed: 3 });
  const { model, tokenizer, pooling, maxSeqLength } = base;
  assert.throws(
    () => new SentenceEncoder({ model, tokenizer, pooling, normalize: false, maxSeqLength, truncateDim: 17 }),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'truncateDim',
  );
  base.dispose();
});

test('an untied model saved as a Router carries one truncate_dim for both towers', async () => {
  const dir = tmpDir();
  const a = await SentenceEncoder.fromScratch(tinyConfig(dir), undefined, { seed: 3 });
  const b = await SentenceEncoder.fromScratch(tinyConfig(dir), undefined, { seed: 4 });
  const withDim = (e: SentenceEncoder, truncateDim?: number) =>
    new SentenceEncoder({
      model: e.model,
      tokenizer: e.tokenizer,
      pooling: e.pooling,
      normalize: true,
      maxSeqLength: e.maxSeqLength,
      truncateDim,
    });
  const out = path.join(dir, 'untied');
  await BiEncoder.untied(withDim(a, 8), withDim(b, 8)).save(out);
  const config = JSON.parse(readFileSync(path.join(out, 'config_sentence_transformers.json'), 'utf8'));
  assert.equal(config.truncate_dim, 8);
  const loaded = await loadRetrievalModel(out, { quiet: true });
  assert.equal(loaded.tied, false);
  assert.equal(loaded.queryEncoder.truncateDim, 8);
  assert.equal(loaded.passageEncoder.truncateDim, 8);
  assert.equal((await loaded.encodeQueries(TEXTS, { quiet: true })).cols, 8);
  loaded.dispose();
  await assert.rejects(
    BiEncoder.untied(withDim(a, 8), withDim(b)).save(path.join(dir, 'mixed')),
    (e: unknown) => e instanceof ArgumentError && e.argument === 'truncateDim',
  );
  a.dispose();
  b.dispose();
});
