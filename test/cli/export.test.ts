import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
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
