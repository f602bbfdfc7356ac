import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { loadModel } from '../../src/models/load.js';
import type { LoadModelOptions } from '../../src/models/load.js';
import { readSafetensors, writeSafetensors } from '../../src/checkpoint/safetensors.js';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import type { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { tmpDir } from '../helpers/tmp.js';
import { e2eModelDir, e2eReference, matrixRows, maxAbsDiff, TINY } from '../models/bert-fixture.js';

before(async () => {
  await initBackend();
});

const TOL = 1e-4;

/** loadModel with its notes captured instead of printed. */
async function load(
  source: string,
  options: LoadModelOptions = {},
): Promise<{ encoder: SentenceEncoder; notes: string[] }> {
  const notes: string[] = [];
  const encoder = await loadModel(source, { ...options, log: (m) => notes.push(m) });
  return { encoder, notes };
}

test('a sentence-transformers checkpoint reproduces the reference embeddings with its own defaults', async () => {
  const ref = e2eReference();
  const { encoder, notes } = await load(e2eModelDir());
  assert.equal(encoder.pooling, 'mean');
  assert.equal(encoder.normalize, true);
  assert.equal(encoder.maxSeqLength, ref.max_seq_length);
  assert.equal(encoder.dim, 8);
  assert.deepEqual(notes, []);
  const batch = encoder.tokenizer.encodeBatch(ref.texts, { maxLength: encoder.maxSeqLength });
  ref.input_ids.forEach((ids, i) => {
    assert.deepEqual(
      Array.from(batch.inputIds.subarray(i * batch.seqLen, i * batch.seqLen + ids.length)),
      ids,
      `ids of text ${i}`,
    );
  });
  const before = tf.memory().numTensors;
  const m = await encoder.encode(ref.texts, { batchSize: 3, quiet: true });
  assert.equal(tf.memory().numTensors, before, 'encode leaks no tensors');
  assert.deepEqual([m.rows, m.cols], [ref.texts.length, 8]);
  const diff = maxAbsDiff(matrixRows(m), ref.pooled.mean_normalized);
  assert.ok(diff <= TOL, `max abs diff ${diff}`);
  encoder.dispose();
});

test('explicit pooling/normalize override the checkpoint, and the override is reported', async () => {
  const ref = e2eReference();
  for (const [pooling, normalize, key] of [
    ['cls', false, 'cls'],
    ['max', true, 'max_normalized'],
    ['mean', false, 'mean'],
  ] as const) {
    const { encoder, notes } = await load(e2eModelDir(), { pooling, normalize });
    const m = await encoder.encode(ref.texts, { quiet: true });
    assert.ok(maxAbsDiff(matrixRows(m), ref.pooled[key]) <= TOL, key);
    if (pooling !== 'mean')
      assert.ok(
        notes.some((n) => n.includes(`trained with mean pooling; using ${pooling} as requested`)),
        notes.join('|'),
      );
    if (!normalize)
      assert.ok(notes.some((n) => n.includes('normalizes embeddings; overriding as requested')));
    encoder.dispose();
  }
});

test('the newer pooling_mode key is honoured (a cls checkpoint is never mean-pooled and vice versa)', async () => {
  const ref = e2eReference();
  const dir = e2eModelDir();
  writeFileSync(
    path.join(dir, '1_Pooling', 'config.json'),
    JSON.stringify({ word_embedding_dimension: 8, pooling_mode: 'cls' }),
  );
  const { encoder } = await load(dir);
  assert.equal(encoder.pooling, 'cls');
  const m = await encoder.encode(ref.texts, { quiet: true });
  assert.ok(maxAbsDiff(matrixRows(m), ref.pooled.cls_normalized) <= TOL);
  encoder.dispose();
});

test('a plain Hugging Face checkpoint gets mean pooling without normalization, and says so', async () => {
  const ref = e2eReference();
  const dir = e2eModelDir();
  for (const f of ['modules.json', 'sentence_bert_config.json', '1_Pooling', '2_Normalize'])
    rmSync(path.join(dir, f), { recursive: true, force: true });
  const { encoder, notes } = await load(dir);
  assert.equal(encoder.pooling, 'mean');
  assert.equal(encoder.normalize, false);
  assert.equal(encoder.maxSeqLength, 128, 'max_position_embeddings caps the tokenizer limit (512)');
  assert.equal(notes.length, 1);
  assert.match(
    notes[0],
    /has no sentence-transformers modules\.json: using mean pooling without normalization/,
  );
  const m = await encoder.encode(ref.texts, { quiet: true, maxLength: ref.max_seq_length });
  assert.ok(maxAbsDiff(matrixRows(m), ref.pooled.mean) <= TOL);
  encoder.dispose();
});

test('save -> load round-trips bit-exactly, in the sentence-transformers layout', async () => {
  const ref = e2eReference();
  const { encoder } = await load(e2eModelDir());
  const out = path.join(tmpDir(), 'saved');
  await encoder.save(out);
  const files = readdirSync(out).sort();
  for (const f of [
    '1_Pooling',
    '2_Normalize',
    'config.json',
    'config_sentence_transformers.json',
    'model.safetensors',
    'modules.json',
    'sentence_bert_config.json',
    'tokenizer.json',
    'tokenizer_config.json',
  ]) {
    assert.ok(files.includes(f), `${f} in ${files.join(', ')}`);
  }
  assert.deepEqual(readdirSync(path.dirname(out)), ['saved'], 'no temporary directory left behind');
  const saved = await readSafetensors(path.join(out, 'model.safetensors'));
  const original = await readSafetensors(path.join(e2eModelDir(), 'model.safetensors'));
  for (const [name, t] of original) assert.deepEqual(saved.get(name)?.data, t.data, name);
  const bytes = readFileSync(path.join(out, 'model.safetensors'));
  const header = JSON.parse(bytes.toString('utf8', 8, 8 + Number(bytes.readBigUInt64LE(0))));
  assert.deepEqual(header.__metadata__, { format: 'pt' }, 'transformers needs format metadata');

  const { encoder: again } = await load(out);
  assert.deepEqual(again.bert.hfTensors(), encoder.bert.hfTensors());
  assert.deepEqual(
    [again.pooling, again.normalize, again.maxSeqLength],
    [encoder.pooling, encoder.normalize, encoder.maxSeqLength],
  );
  const a = await encoder.encode(ref.texts, { quiet: true });
  const b = await again.encode(ref.texts, { quiet: true });
  assert.deepEqual(b.data, a.data, 'same embeddings, bit for bit');
  // Saving over an existing model replaces it.
  await again.save(out);
  assert.ok(existsSync(path.join(out, 'model.safetensors')));
  encoder.dispose();
  again.dispose();
});

test('missing config.json or model.safetensors names the path', async () => {
  const noConfig = e2eModelDir();
  rmSync(path.join(noConfig, 'config.json'));
  await assert.rejects(loadModel(noConfig, { quiet: true }), (e: unknown) => {
    assert.ok(e instanceof InputFormatError);
    assert.equal(e.message, `${path.join(noConfig, 'config.json')}: missing config.json`);
    return true;
  });
  const noWeights = e2eModelDir();
  rmSync(path.join(noWeights, 'model.safetensors'));
  await assert.rejects(loadModel(noWeights, { quiet: true }), {
    message: `${path.join(noWeights, 'model.safetensors')}: missing model.safetensors`,
  });
  writeFileSync(path.join(noWeights, 'pytorch_model.bin'), 'x');
  await assert.rejects(
    loadModel(noWeights, { quiet: true }),
    /missing model\.safetensors \(only pytorch_model\.bin is present; convert it with/,
  );
  const noTokenizer = e2eModelDir();
  rmSync(path.join(noTokenizer, 'tokenizer.json'));
  await assert.rejects(
    loadModel(noTokenizer, { quiet: true }),
    new RegExp(`${path.join(noTokenizer, 'tokenizer.json')}: file not found`),
  );
});

test('a wrong tensor shape in the safetensors names the tensor', async () => {
  const dir = e2eModelDir();
  const file = path.join(dir, 'model.safetensors');
  const tensors = await readSafetensors(file);
  tensors.set('encoder.layer.0.intermediate.dense.weight', {
    dtype: 'F32',
    shape: [8, 16],
    data: tensors.get('encoder.layer.0.intermediate.dense.weight')!.data,
  });
  await writeSafetensors(file, tensors);
  await assert.rejects(loadModel(dir, { quiet: true }), (e: unknown) => {
    assert.ok(e instanceof InputFormatError);
    assert.match(
      e.message,
      /model\.safetensors: tensor encoder\.layer\.0\.intermediate\.dense\.weight has shape \[8, 16\] but config\.json implies \[16, 8\]/,
    );
    return true;
  });
});

test('a config that does not match the weights is a clear error', async () => {
  const dir = e2eModelDir();
  const configFile = path.join(dir, 'config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8'));
  writeFileSync(configFile, JSON.stringify({ ...config, hidden_size: 16 }));
  await assert.rejects(
    loadModel(dir, { quiet: true }),
    /tensor embeddings\.word_embeddings\.weight has shape \[30522, 8\] but config\.json implies \[30522, 16\] \(hidden_size=16.*config and weights do not match/,
  );
  writeFileSync(configFile, JSON.stringify({ ...config, num_hidden_layers: 2 }));
  await assert.rejects(
    loadModel(dir, { quiet: true }),
    /config\.json: "num_hidden_layers" is 2 but the weights have 1 layer; config and weights do not match/,
  );
});

test('a truncated model.safetensors is a clear error', async () => {
  const dir = e2eModelDir();
  const file = path.join(dir, 'model.safetensors');
  const bytes = readFileSync(file);
  writeFileSync(file, bytes.subarray(0, bytes.byteLength >> 1));
  await assert.rejects(
    loadModel(dir, { quiet: true }),
    new RegExp(`${file}: truncated safetensors file: tensor \\S+ ends at byte`),
  );
});

test('a tokenizer larger than the embedding table is refused', async () => {
  const dir = path.join(tmpDir(), 'tiny');
  cpSync(TINY, dir, { recursive: true });
  cpSync(path.join(e2eModelDir(), 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  await assert.rejects(loadModel(dir, { quiet: true }), (e: unknown) => {
    assert.ok(e instanceof ArgumentError);
    assert.match(e.message, /tokenizer: has 30522 token ids but the model's vocab_size is 1000/);
    return true;
  });
});

test('sharded checkpoints (model.safetensors.index.json) load', async () => {
  const ref = e2eReference();
  const dir = e2eModelDir();
  const tensors = await readSafetensors(path.join(dir, 'model.safetensors'));
  const names = [...tensors.keys()];
  const first = new Map(names.slice(0, 5).map((n) => [n, tensors.get(n)!]));
  const second = new Map(names.slice(5).map((n) => [n, tensors.get(n)!]));
  await writeSafetensors(path.join(dir, 'model-00001-of-00002.safetensors'), first);
  await writeSafetensors(path.join(dir, 'model-00002-of-00002.safetensors'), second);
  const weightMap: Record<string, string> = {};
  for (const n of first.keys()) weightMap[n] = 'model-00001-of-00002.safetensors';
  for (const n of second.keys()) weightMap[n] = 'model-00002-of-00002.safetensors';
  writeFileSync(
    path.join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: {}, weight_map: weightMap }),
  );
  renameSync(path.join(dir, 'model.safetensors'), path.join(dir, 'unused.bin'));
  const { encoder } = await load(dir);
  const m = await encoder.encode(ref.texts, { quiet: true });
  assert.ok(maxAbsDiff(matrixRows(m), ref.pooled.mean_normalized) <= TOL);
  encoder.dispose();
});

test('scratch:<config.json> builds a random encoder with the bundled tokenizer', async () => {
  const { encoder } = await load(`scratch:${path.join(e2eModelDir(), 'config.json')}`, { seed: 3 });
  assert.equal(encoder.pooling, 'mean');
  assert.equal(encoder.normalize, false);
  assert.equal(encoder.dim, 8);
  assert.equal(encoder.tokenizer.vocabSize, 30522);
  const m = await encoder.encode(['hello world'], { quiet: true });
  assert.equal(m.data.length, 8);
  assert.ok(m.data.every(Number.isFinite));
  encoder.dispose();
  await assert.rejects(
    loadModel('scratch:/nonexistent/config.json'),
    /model: scratch config '\/nonexistent\/config\.json' not found/,
  );
});
