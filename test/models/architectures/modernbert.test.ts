import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../../src/backend/index.js';
import { readSafetensors } from '../../../src/checkpoint/safetensors.js';
import { InputFormatError } from '../../../src/errors.js';
import { ModernBertModel, parseModernBertConfig } from '../../../src/models/architectures/modernbert.js';
import { pool } from '../../../src/models/pooling.js';
import { maxAbsDiff } from '../bert-fixture.js';
import { archDir } from './fixtures.js';

before(async () => {
  await initBackend();
});

const DIR = archDir('modernbert');
const rawConfig = JSON.parse(readFileSync(path.join(DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
const ref = JSON.parse(readFileSync(path.join(DIR, 'reference.json'), 'utf8')) as {
  input_ids: number[][];
  attention_mask: number[][];
  pooled: { f32: { mean: number[][] } };
};

async function load(overrides: Record<string, unknown>): Promise<ModernBertModel> {
  const weights = new Map<string, tf.Tensor>();
  for (const [name, t] of await readSafetensors(path.join(DIR, 'model.safetensors')))
    weights.set(name, tf.tensor(t.data, t.shape, 'float32'));
  try {
    return ModernBertModel.fromWeights(parseModernBertConfig({ ...rawConfig, ...overrides }), weights);
  } finally {
    tf.dispose([...weights.values()]);
  }
}

function meanPooled(model: ModernBertModel): number[][] {
  return tf.tidy(() => {
    const mask = tf.tensor2d(ref.attention_mask, undefined, 'int32');
    const h = model.forward({
      inputIds: tf.tensor2d(ref.input_ids, undefined, 'int32'),
      attentionMask: mask,
    });
    return pool(h, mask, 'mean').arraySync();
  });
}

test('sliding-window layers see only +-local_attention/2 tokens: the 23-token batch depends on the window', async () => {
  assert.ok(
    ref.input_ids[0].length > (rawConfig.local_attention as number),
    'sequences longer than the window',
  );
  const fixture = await load({});
  const wide = await load({ local_attention: 64 });
  const allGlobal = await load({ global_attn_every_n_layers: 1 });
  assert.ok(maxAbsDiff(meanPooled(fixture), ref.pooled.f32.mean) < 1e-4, 'the reference uses the window');
  assert.ok(maxAbsDiff(meanPooled(wide), ref.pooled.f32.mean) > 1e-3, 'a window wider than the text differs');
  // With the window wider than every text, local layers differ from global ones only by their RoPE theta.
  assert.ok(maxAbsDiff(meanPooled(wide), meanPooled(allGlobal)) > 1e-6);
  for (const m of [fixture, wide, allGlobal]) m.dispose();
});

test('ModernBERT config errors name the file; biases are read when the config asks for them', async () => {
  assert.throws(
    () => parseModernBertConfig({ ...rawConfig, hidden_size: 18 }, 'c.json'),
    (e: unknown) => e instanceof InputFormatError && /c\.json: hidden_size 18/.test(e.message),
  );
  await assert.rejects(load({ attention_bias: true }), /missing weights layers\.0\.attn\.Wqkv\.bias/);
  const withBias = ModernBertModel.random(
    parseModernBertConfig({ ...rawConfig, mlp_bias: true, norm_bias: true }),
    1,
  );
  const names = [...withBias.variables().keys()];
  assert.ok(names.includes('layers.0.mlp.Wi.bias') && names.includes('final_norm.bias'));
  assert.ok(!names.includes('layers.0.attn_norm.weight'), 'the first layer has no attention norm');
  withBias.dispose();
});
