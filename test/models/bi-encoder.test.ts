import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend/index.js';
import { ArgumentError, InputFormatError } from '../../src/errors.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import { SentenceEncoder } from '../../src/models/sentence-encoder.js';
import { ToyEncoder } from '../losses/toy-encoder.js';
import { tmpDir } from '../helpers/tmp.js';
import { tinyConfig } from '../train/tiny-bert.js';
import { plainTower } from './plain-tower.js';

const TEXTS = [
  'what causes rain',
  'Rain forms when water vapour condenses.',
  'BM25 is a sparse ranking function.',
];

const load = (dir: string) => SentenceEncoder.load(dir, { quiet: true });

before(async () => {
  await initBackend();
});

async function matrix(m: Promise<{ data: Float32Array }>): Promise<number[]> {
  return [...(await m).data];
}

test('a tied bi-encoder saves as one sentence-transformers directory that loads back identically', async () => {
  const dir = tmpDir();
  const enc = await SentenceEncoder.fromScratch(tinyConfig(dir), undefined, { seed: 1, pooling: 'cls' });
  const model = BiEncoder.tied(enc, { similarity: 'cosine' });
  const out = path.join(dir, 'model');
  await model.save(out);
  for (const f of [
    'config.json',
    'model.safetensors',
    'modules.json',
    '1_Pooling/config.json',
    'bi_encoder.json',
  ]) {
    assert.ok(existsSync(path.join(out, f)), f);
  }
  const config = JSON.parse(readFileSync(path.join(out, 'bi_encoder.json'), 'utf8'));
  assert.deepEqual(config, {
    format: 'dense-retrieval.bi-encoder',
    version: 1,
    tied: true,
    similarity: 'cosine',
    query: '.',
    passage: '.',
  });
  const again = await BiEncoder.load(out, { loadEncoder: load });
  assert.equal(again.tied, true);
  assert.equal(again.similarity, 'cosine');
  assert.equal(again.queryEncoder.pooling, 'cls');
  assert.deepEqual(await matrix(again.encodePassages(TEXTS)), await matrix(model.encodePassages(TEXTS)));
  // The directory is a plain sentence-transformers model too (what `encode --model` loads).
  const plain = await load(out);
  assert.deepEqual(
    await matrix(plain.encode(TEXTS, { quiet: true })),
    await matrix(model.encodeQueries(TEXTS)),
  );
  plain.dispose();
  again.dispose();
  model.dispose();
});

test('an untied bi-encoder saves as a sentence-transformers Router model and loads back', async () => {
  const dir = tmpDir();
  const config = tinyConfig(dir);
  const q = await SentenceEncoder.fromScratch(config, undefined, { seed: 1 });
  const p = await SentenceEncoder.fromScratch(config, undefined, { seed: 2 });
  const model = BiEncoder.untied(q, p, { similarity: 'dot' });
  assert.equal(model.tied, false);
  assert.equal(model.trainableVariables().length, q.trainableVariables().length * 2);
  const out = path.join(dir, 'model');
  await model.save(out);
  assert.ok(existsSync(path.join(out, 'query_0_Transformer', 'model.safetensors')));
  assert.ok(existsSync(path.join(out, 'document_0_Transformer', 'model.safetensors')));
  assert.ok(existsSync(path.join(out, 'router_config.json')));
  assert.ok(!existsSync(path.join(out, 'bi_encoder.json')), 'standard sentence-transformers files only');
  const again = await BiEncoder.load(out); // default loader: loadModel
  assert.equal(again.tied, false);
  assert.equal(again.similarity, 'dot');
  const qv = await matrix(again.encodeQueries(TEXTS));
  const pv = await matrix(again.encodePassages(TEXTS));
  assert.deepEqual(qv, await matrix(model.encodeQueries(TEXTS)));
  assert.deepEqual(pv, await matrix(model.encodePassages(TEXTS)));
  assert.notDeepEqual(qv, pv, 'the towers are different models');
  again.dispose();
  model.dispose();
});

test('a plain sentence-transformers directory loads as a tied model', async () => {
  const dir = tmpDir();
  const enc = await SentenceEncoder.fromScratch(tinyConfig(dir), undefined, { seed: 4 });
  await enc.save(path.join(dir, 'st'));
  const model = await BiEncoder.load(path.join(dir, 'st'), { loadEncoder: load, similarity: 'cosine' });
  assert.equal(model.tied, true);
  assert.equal(model.similarity, 'cosine');
  model.dispose();
  enc.dispose();
});

test('score follows the similarity', () => {
  const toy = new ToyEncoder();
  const q = tf.tensor2d([[3, 4]]);
  const p = tf.tensor2d([
    [3, 4],
    [0, 2],
  ]);
  const dot = BiEncoder.tied(toy).score(q, p);
  const cos = BiEncoder.tied(toy, { similarity: 'cosine' }).score(q, p);
  assert.deepEqual([...dot.dataSync()], [25, 8]);
  assert.deepEqual(
    [...cos.dataSync()].map((x) => +x.toFixed(6)),
    [1, 0.8],
  );
  tf.dispose([q, p, dot, cos]);
  toy.dispose();
});

test('bad models and bad files are named errors', async () => {
  const dir = tmpDir();
  const toy = new ToyEncoder();
  await assert.rejects(
    BiEncoder.tied(toy).save(path.join(dir, 'x')),
    (e: unknown) => e instanceof ArgumentError && /queryEncoder: encoder has no save\(\)/.test(e.message),
  );
  assert.ok(!existsSync(path.join(dir, 'x')), 'nothing half-written');
  assert.throws(() => BiEncoder.untied(toy, toy), /passage: is the query encoder itself; use BiEncoder.tied/);
  assert.throws(
    () => BiEncoder.tied(toy, { similarity: 'l2' as never }),
    /similarity: must be 'dot' or 'cosine'/,
  );
  writeFileSync(path.join(dir, 'bi_encoder.json'), '{"format": "other"}');
  await assert.rejects(
    BiEncoder.load(dir, { loadEncoder: load }),
    (e: unknown) =>
      e instanceof InputFormatError &&
      e.file === path.join(dir, 'bi_encoder.json') &&
      /not a bi-encoder config/.test(e.message),
  );
  toy.dispose();
});

test('bi_encoder.json tower folders and shard names outside the model directory are refused', async () => {
  const dir = tmpDir();
  const out = path.join(dir, 'm');
  // Towers that are not SentenceEncoders: the query/, passage/, bi_encoder.json layout.
  await BiEncoder.untied(
    plainTower(await SentenceEncoder.fromScratch(tinyConfig(dir), undefined, { seed: 1 })),
    plainTower(await SentenceEncoder.fromScratch(tinyConfig(dir), undefined, { seed: 2 })),
  ).save(out);
  const cfgFile = path.join(out, 'bi_encoder.json');
  const cfg = JSON.parse(readFileSync(cfgFile, 'utf8'));
  writeFileSync(cfgFile, JSON.stringify({ ...cfg, passage: '../../elsewhere' }));
  const { rmSync } = await import('node:fs');
  rmSync(path.join(out, 'dense_retrieval_manifest.json')); // so the path rule, not the checksum, answers
  await assert.rejects(
    BiEncoder.load(out, { loadEncoder: load }),
    (e: unknown) =>
      e instanceof InputFormatError &&
      e.file === cfgFile &&
      /"passage" must be a folder inside the model directory, got "..\/..\/elsewhere"/.test(e.message),
  );
  const shardDir = path.join(out, 'query');
  rmSync(path.join(shardDir, 'model.safetensors'));
  rmSync(path.join(shardDir, 'dense_retrieval_manifest.json'));
  writeFileSync(
    path.join(shardDir, 'model.safetensors.index.json'),
    JSON.stringify({ weight_map: { 'a.weight': '../passage/model.safetensors' } }),
  );
  await assert.rejects(
    load(shardDir),
    /model\.safetensors\.index\.json: "weight_map" names "\.\.\/passage\/model\.safetensors", which is not a file inside/,
  );
});
