import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError } from '../../src/errors.js';
import { verifyModelDir } from '../../src/checkpoint/model-dir.js';
import { exportInternals, exportOnnx } from '../../src/export/export-onnx.js';
import { onnxType } from '../../src/export/onnx-schema.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { tmpDir } from '../helpers/tmp.js';
import { loadFixture, makeDense, maxAbs, ort, runOnnx, TEXTS } from './onnx-helpers.js';

/** exportOnnx's directory: transformers.js files, sentence-transformers files, atomic writes, external data. */

before(async () => {
  await initBackend();
});

const readJson = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;

test('exportOnnx writes onnx/model.onnx with the tokenizer and sentence-transformers files; the directory loads back as the same encoder', async () => {
  const encoder = await loadFixture('roberta');
  const dir = path.join(tmpDir('dr-export-'), 'out');
  const result = await exportOnnx(encoder, dir, { quiet: true });
  assert.equal(result.onnxFile, path.join(dir, 'onnx', 'model.onnx'));
  assert.equal(result.externalDataFile, undefined);
  assert.deepEqual(result.inputNames, ['input_ids', 'attention_mask', 'token_type_ids']);
  for (const f of [
    'onnx/model.onnx',
    'config.json',
    'model.safetensors',
    'tokenizer.json',
    'tokenizer_config.json',
    'special_tokens_map.json',
    'modules.json',
    '1_Pooling/config.json',
    'sentence_bert_config.json',
    'config_sentence_transformers.json',
  ]) {
    assert.ok(existsSync(path.join(dir, f)), `${f} written`);
  }
  assert.equal(result.bytes, statSync(result.onnxFile).size);
  const tokenizerConfig = readJson(path.join(dir, 'tokenizer_config.json'));
  assert.equal(tokenizerConfig.pad_token, '<pad>');
  assert.equal(tokenizerConfig.model_max_length, encoder.maxSeqLength);
  assert.equal(readJson(path.join(dir, 'special_tokens_map.json')).pad_token, '<pad>');
  assert.equal(readJson(path.join(dir, 'config.json')).model_type, 'roberta');
  assert.ok(await verifyModelDir(dir), 'the manifest covers the ONNX file too');

  // The ONNX file from its path (as transformers.js and onnxruntime load it) equals the encoder.
  const session = await ort.InferenceSession.create(result.onnxFile, { graphOptimizationLevel: 'all' });
  const out = await runOnnx(session, encoder, TEXTS);
  await session.release();
  const expected = await encoder.encode(TEXTS, { quiet: true });
  assert.ok(maxAbs(out.sentence, expected.data) < 1e-4);

  // The directory is a sentence-transformers model too: it loads back as the same encoder.
  const again = await SentenceEncoder.load(dir, { quiet: true });
  const m = await again.encode(TEXTS, { quiet: true });
  assert.deepEqual(Array.from(m.data), Array.from(expected.data));
  again.dispose();
  encoder.dispose();
});

test('exportOnnx into an existing directory keeps the user files; q8 adds onnx/model_quantized.onnx', async () => {
  const encoder = await loadFixture('mpnet');
  const dir = path.join(tmpDir('dr-export-'), 'out');
  await exportOnnx(encoder, dir, { quiet: true });
  writeFileSync(path.join(dir, 'notes.txt'), 'mine');
  const q8 = await exportOnnx(encoder, dir, { quiet: true, quantize: 'q8' });
  assert.equal(q8.onnxFile, path.join(dir, 'onnx', 'model_quantized.onnx'));
  assert.equal(readFileSync(path.join(dir, 'notes.txt'), 'utf8'), 'mine', 'a user file is kept');
  assert.ok(existsSync(q8.onnxFile));
  assert.ok(statSync(q8.onnxFile).size < statSync(path.join(dir, 'onnx', 'model.onnx')).size);
  encoder.dispose();
});

test('weights past the external-data threshold go to onnx/model.onnx_data, and onnxruntime loads them from there', async () => {
  const encoder = await loadFixture('bert');
  const dir = path.join(tmpDir('dr-export-'), 'out');
  exportInternals.serialize = { externalDataThreshold: 1000 };
  let result;
  try {
    result = await exportOnnx(encoder, dir, { quiet: true });
  } finally {
    exportInternals.serialize = {};
  }
  assert.equal(result.externalDataFile, path.join(dir, 'onnx', 'model.onnx_data'));
  const modelBytes = statSync(result.onnxFile).size;
  const dataBytes = statSync(result.externalDataFile).size;
  assert.equal(result.bytes, modelBytes + dataBytes);
  assert.ok(dataBytes > 30522 * 8 * 4, 'the word embeddings are in the data file');
  const decoded = onnxType('ModelProto').decode(readFileSync(result.onnxFile)) as unknown as {
    graph: {
      initializer: {
        name: string;
        data_location?: number;
        external_data: { key: string; value: string }[];
      }[];
    };
  };
  const word = decoded.graph.initializer.find((t) => t.name === 'embeddings.word_embeddings.weight')!;
  assert.equal(word.data_location, 1);
  assert.equal(word.external_data.find((e) => e.key === 'location')?.value, 'model.onnx_data');
  const session = await ort.InferenceSession.create(result.onnxFile, { graphOptimizationLevel: 'all' });
  const out = await runOnnx(session, encoder, TEXTS);
  await session.release();
  const expected = await encoder.encode(TEXTS, { quiet: true });
  assert.ok(maxAbs(out.sentence, expected.data) < 1e-4);
  encoder.dispose();
});

test('an export that fails midway leaves the previous export as it was (atomic), with a typed error', async () => {
  const encoder = await loadFixture('distilbert');
  const dir = path.join(tmpDir('dr-export-'), 'out');
  await exportOnnx(encoder, dir, { quiet: true });
  const before = readFileSync(path.join(dir, 'onnx', 'model.onnx'));
  const dense = await makeDense(encoder.model.hiddenSize, 4, 'torch.nn.modules.activation.Tanh', true, 5);
  // An activation the exporter has no op for: the graph fails after the model files were staged.
  Object.defineProperty(dense, 'activation', { value: 'torch.nn.modules.activation.GELU' });
  const broken = new SentenceEncoder({
    model: encoder.model,
    tokenizer: encoder.tokenizer,
    pooling: 'mean',
    normalize: false,
    maxSeqLength: encoder.maxSeqLength,
    dense: [dense],
  });
  await assert.rejects(exportOnnx(broken, dir, { quiet: true }), ArgumentError);
  assert.deepEqual(readFileSync(path.join(dir, 'onnx', 'model.onnx')), before);
  assert.ok(!existsSync(path.join(dir, '2_Dense')), 'no file of the failed export landed');
  assert.ok(await verifyModelDir(dir));
  dense.dispose();
  encoder.dispose();
});
