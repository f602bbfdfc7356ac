import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { writeSafetensors } from '../../src/checkpoint/safetensors.js';
import { MODEL_MANIFEST } from '../../src/checkpoint/model-dir.js';
import { NonFiniteError } from '../../src/errors.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import { encodeParallel } from '../../src/models/parallel-encode.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';

before(async () => {
  await initBackend();
});

// Texts 0, 1 and 3 are clean; text 2 contains the poisoned token.
const TEXTS = ['dense vectors', 'sparse vectors', 'what causes rain', 'a short text'];

/**
 * A tiny model directory whose embedding row for "rain" is NaN, as a checkpoint damaged elsewhere would
 * be, saved without a manifest (as Python writes it) so that only the embeddings can reveal it.
 */
async function poisonedModel(dir: string): Promise<string> {
  const enc = await SentenceEncoder.fromScratch(tinyConfig(dir), undefined, { seed: 1 });
  const out = path.join(dir, 'poisoned');
  await enc.save(out);
  const tensors = enc.bert.hfTensors();
  const emb = tensors.get('embeddings.word_embeddings.weight')!;
  const rain = enc.tokenizer.encodeBatch(['rain'], { maxLength: 8 }).inputIds[1];
  emb.data.fill(Number.NaN, rain * emb.shape[1], (rain + 1) * emb.shape[1]);
  await writeSafetensors(path.join(out, 'model.safetensors'), tensors, { format: 'pt' });
  rmSync(path.join(out, MODEL_MANIFEST));
  enc.dispose();
  return out;
}

const namesText2 = (e: unknown): boolean => {
  assert.ok(e instanceof NonFiniteError, `expected NonFiniteError, got ${String(e)}`);
  assert.equal(e.row, 2);
  assert.match(e.message, /the embedding of text 2 \("what causes rain"\) has NaN at dimension \d+/);
  return true;
};

test('NaN weights: encode, the bi-encoder and parallel encode refuse, naming the text', async () => {
  const dir = tmpDir();
  const model = await poisonedModel(dir);
  const enc = await SentenceEncoder.load(model, { quiet: true });
  await assert.rejects(enc.encode(TEXTS, { quiet: true, batchSize: 2 }), namesText2);
  // The clean texts still encode; the escape hatch returns the NaN rows as they are.
  const clean = await enc.encode([TEXTS[0], TEXTS[1]], { quiet: true });
  assert.ok(clean.data.every(Number.isFinite));
  const raw = await enc.encode(TEXTS, { quiet: true, checkFinite: false });
  assert.ok(Number.isNaN(raw.data[2 * raw.cols]));
  await assert.rejects(BiEncoder.tied(enc).encodeQueries(TEXTS, { quiet: true }), namesText2);
  await assert.rejects(encodeParallel(model, TEXTS, { workers: 2, batchSize: 1, quiet: true }), namesText2);
  // From memory the encoder is saved to a temp copy first; a copy a killed run left behind goes away.
  const { spawnSync } = await import('node:child_process');
  const deadPid = Number(
    spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout,
  );
  const litter = path.join(os.tmpdir(), `dr-parallel-encode-${deadPid}-abc123`);
  mkdirSync(path.join(litter, 'model'), { recursive: true });
  await assert.rejects(encodeParallel(enc, TEXTS, { workers: 1, quiet: true }), namesText2);
  assert.ok(!existsSync(litter), 'stale temp model copy removed');
  enc.dispose();
});

test('NaN weights: the CLI encode fails with the text named and writes no output', async () => {
  const dir = tmpDir();
  const model = await poisonedModel(dir);
  const input = path.join(dir, 'texts.txt');
  writeFileSync(input, TEXTS.join('\n') + '\n');
  const out = path.join(dir, 'out.npy');
  const r = await runCli(['encode', '--model', model, '--input', input, '--output', out, '--quiet']);
  // A typed error's exit code, not 0 and not a signal (which the helper reports as -1).
  assert.ok(r.code >= 1 && r.code < 128, `exit code ${r.code}`);
  assert.match(r.stderr, /text 2 \("what causes rain"\) has NaN/);
  assert.doesNotMatch(r.stderr, /internal error/);
  assert.ok(!existsSync(out));
});
