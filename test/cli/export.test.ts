import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { archDir } from '../models/architectures/fixtures.js';

test('export writes onnx/model.onnx and, with --quantize q8, onnx/model_quantized.onnx; the summary names the inputs', async () => {
  const out = path.join(tmpDir('dr-cli-export-'), 'onnx-model');
  const r = await runCli([
    'export',
    '--model',
    archDir('mpnet'),
    '--out',
    out,
    '--quantize',
    'q8',
    '--quiet',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(path.join(out, 'onnx', 'model.onnx')));
  assert.ok(existsSync(path.join(out, 'onnx', 'model_quantized.onnx')));
  assert.match(
    r.stdout,
    /model_quantized\.onnx .*opset 17, inputs input_ids, attention_mask; outputs last_hidden_state, sentence_embedding/,
  );
  // Both files written are named, each with its own size (q8 also writes the float model.onnx).
  for (const name of ['model.onnx', 'model_quantized.onnx']) {
    const file = path.join(out, 'onnx', name);
    const mb = (statSync(file).size / 2 ** 20).toFixed(1);
    assert.ok(r.stdout.includes(`${file} (${mb} MiB)`), r.stdout);
  }
  const config = JSON.parse(readFileSync(path.join(out, 'tokenizer_config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  assert.equal(typeof config.pad_token, 'string');
});

test('export: a bad --opset or --quantize is a one-line usage error before any model loads', async () => {
  const out = path.join(tmpDir('dr-cli-export-'), 'x');
  const r = await runCli(['export', '--model', 'nowhere/none', '--out', out, '--opset', '12']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--opset must be >= 14/);
  const r2 = await runCli(['export', '--model', 'nowhere/none', '--out', out, '--quantize', 'q4']);
  assert.equal(r2.code, 2, r2.stderr);
  assert.match(r2.stderr, /--quantize/);
  assert.ok(!existsSync(out));
});

test('export of an untied model needs --tower and exports that tower', async () => {
  await initBackend();
  const dir = tmpDir('dr-cli-export-');
  const untied = path.join(dir, 'untied');
  const query = await SentenceEncoder.load(archDir('distilbert'), { quiet: true });
  const passage = await SentenceEncoder.load(archDir('distilbert'), { quiet: true });
  await BiEncoder.untied(query, passage).save(untied);
  query.dispose();
  passage.dispose();
  const out = path.join(dir, 'out');
  const r = await runCli(['export', '--model', untied, '--out', out, '--quiet']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--tower query or --tower passage/);
  const r2 = await runCli(['export', '--model', untied, '--out', out, '--tower', 'passage', '--quiet']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.ok(existsSync(path.join(out, 'onnx', 'model.onnx')));
  assert.ok(existsSync(path.join(out, 'modules.json')));
});
